// The task page's keys and messages: plain functions, no page access (tests run them in Node).

// Keys for the frame grid: 1-9, 0, then letters the page does not use otherwise (Y, N, U answer
// topic questions, Z undoes, M toggles sound), so a grid of up to 30 candidates is answerable by
// keyboard alone.
export const FRAME_KEYS = "1234567890abcdefghijklopqrstvwx".split("");

export function frameForKey(frames, key) {
  const index = FRAME_KEYS.indexOf(key);
  return index >= 0 && index < frames.length ? frames[index] : null;
}

// What the worker reads when there is no task: if videos are still on their way through the
// pipeline, that tasks are coming and roughly when (the server's estimate at its current rate).
export function noTaskMessage(preparing) {
  if (!preparing || !preparing.videos) {
    return "No more tasks for now. Thank you! Reload the page later to check for new work.";
  }
  const videos = preparing.videos === 1 ? "1 video is" : `${preparing.videos} videos are`;
  const minutes = preparing.eta_minutes;
  const when =
    minutes === null || minutes === undefined
      ? ""
      : ` (about ${minutes} minute${minutes === 1 ? "" : "s"} at the current rate)`;
  return `Tasks are being prepared: ${videos} still being processed${when}. This page checks for them by itself.`;
}
