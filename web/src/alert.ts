// The sound of a message arriving: urgent and emergency louder and longer than anything else
// the client plays (urgent: three rising tones; emergency: a two-tone siren, twice as long); a
// routine message one soft tone (if this device wants it). Made by the browser (Web Audio), so no file is fetched.
// Browsers let a page play sound only after the person has used it: the first key or tap after
// sign-in makes the sound ready (`primeAlerts`).

import type { Level } from "./priority";

let context: AudioContext | null = null;

function audio(): AudioContext | null {
  if (context) return context;
  const Ctor = (window as { AudioContext?: typeof AudioContext }).AudioContext;
  if (!Ctor) return null;
  try {
    context = new Ctor();
  } catch {
    return null;
  }
  return context;
}

const PATTERN: Record<Level, { hz: number[]; gain: number; beep: number }> = {
  // A routine message (if this device wants its sound): one soft tone.
  routine: { hz: [880], gain: 0.2, beep: 0.12 },
  urgent: { hz: [660, 880, 1100], gain: 0.6, beep: 0.18 },
  emergency: { hz: [988, 740, 988, 740, 988, 740], gain: 1, beep: 0.3 },
};

/** Plays the level's alert (nothing where the browser has no sound). */
export function playAlert(level: Level): void {
  const ctx = audio();
  if (!ctx) return;
  void ctx.resume().catch(() => undefined);
  const { hz, gain, beep } = PATTERN[level];
  const start = ctx.currentTime + 0.05;
  hz.forEach((f, i) => {
    const osc = ctx.createOscillator();
    const vol = ctx.createGain();
    osc.type = level === "emergency" ? "square" : level === "urgent" ? "triangle" : "sine";
    osc.frequency.value = f;
    vol.gain.value = gain;
    osc.connect(vol).connect(ctx.destination);
    const at = start + i * beep * 1.3;
    osc.start(at);
    osc.stop(at + beep);
  });
}

/** Makes the alert ready at the person's first key or tap; returns the undoing (sign-out). */
export function primeAlerts(): () => void {
  const prime = () => {
    void audio()?.resume().catch(() => undefined);
    stop();
  };
  const stop = () => {
    window.removeEventListener("pointerdown", prime);
    window.removeEventListener("keydown", prime);
  };
  window.addEventListener("pointerdown", prime);
  window.addEventListener("keydown", prime);
  return () => {
    stop();
    void context?.close().catch(() => undefined);
    context = null;
  };
}
