// Recording a voice note with the browser's microphone (MediaRecorder).

export interface VoiceNote {
  blob: Blob;
  durationMs: number;
}

/** Starts recording; the returned function stops it and gives the note. */
export async function startRecording(): Promise<() => Promise<VoiceNote>> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].find((t) =>
    MediaRecorder.isTypeSupported(t),
  );
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const chunks: Blob[] = [];
  recorder.addEventListener("dataavailable", (e) => chunks.push(e.data));
  const started = performance.now();
  recorder.start();
  return () =>
    new Promise((resolve) => {
      recorder.addEventListener(
        "stop",
        () => {
          for (const track of stream.getTracks()) track.stop();
          const mime = (recorder.mimeType || "audio/webm").split(";")[0];
          resolve({ blob: new Blob(chunks, { type: mime }), durationMs: Math.round(performance.now() - started) });
        },
        { once: true },
      );
      recorder.stop();
    });
}
