// The DeforumationQT control panel: sliders, nudge buttons, switches and the
// sender that turns control changes into PATCH /steering calls.

import { api, ApiError } from "./api.js";

/** Motion values are added to the preset's schedules. */
export const MOTION = [
  { key: "translation_z", label: "Zoom", min: -1, max: 1, step: 0.01, value: 0 },
  { key: "translation_x", label: "Pan X", min: -100, max: 100, step: 0.1, value: 0 },
  { key: "translation_y", label: "Pan Y", min: -100, max: 100, step: 0.1, value: 0 },
  { key: "rotation_x", label: "Rotate up/down", min: -360, max: 360, step: 0.1, value: 0 },
  { key: "rotation_y", label: "Rotate left/right", min: -360, max: 360, step: 0.1, value: 0 },
  { key: "rotation_z", label: "Tilt", min: -360, max: 360, step: 0.1, value: 0 },
  { key: "fov", label: "FOV", min: 20, max: 120, step: 1, value: 70 },
];

/** Strength and CFG replace the schedule only while their switch is on. */
export const SETTINGS = [
  { key: "strength", label: "Strength", min: 0, max: 1, step: 0.01, value: 0.65 },
  { key: "cfg", label: "CFG", min: 1, max: 30, step: 0.5, value: 7 },
  { key: "steps", label: "Steps", min: 1, max: 200, step: 1, value: 25, integer: true },
  { key: "cadence", label: "Cadence", min: 1, max: 30, step: 1, value: 1, integer: true },
  { key: "noise_multiplier", label: "Noise multiplier", min: 0.01, max: 2, step: 0.01, value: 1 },
];

const SEND_INTERVAL_MS = 400;

function clamp(value, spec) {
  const bounded = Math.min(spec.max, Math.max(spec.min, value));
  return spec.integer ? Math.round(bounded) : Math.round(bounded * 1000) / 1000;
}

/** Build one labelled slider with a number field; returns its setter. */
function slider(container, spec, onChange) {
  const row = document.createElement("div");
  row.className = "slider";
  const id = `ctl-${spec.key}`;
  row.innerHTML = `
    <label for="${id}">${spec.label}</label>
    <input id="${id}" type="range" min="${spec.min}" max="${spec.max}" step="${spec.step}" value="${spec.value}" data-key="${spec.key}">
    <input type="number" min="${spec.min}" max="${spec.max}" step="${spec.step}" value="${spec.value}" aria-label="${spec.label} value" data-key="${spec.key}">`;
  container.append(row);
  const [range, number] = row.querySelectorAll("input");
  const show = (value) => {
    range.value = String(value);
    number.value = String(value);
  };
  range.addEventListener("input", () => {
    number.value = range.value;
    onChange(spec.key, clamp(Number(range.value), spec));
  });
  number.addEventListener("change", () => {
    if (number.value === "") return;
    const value = clamp(Number(number.value), spec);
    show(value);
    onChange(spec.key, value);
  });
  return show;
}

/**
 * Collects changed values and sends them at most every SEND_INTERVAL_MS.
 * Values set while no job can be steered are kept and sent once it can.
 */
export class SteeringSender {
  constructor({ onSent, onError, onHint }) {
    this.onSent = onSent;
    this.onError = onError;
    this.onHint = onHint;
    this.jobId = null;
    this.steerable = false;
    this.touched = {};
    this.pending = {};
    this.timer = null;
    this.lastSent = 0;
    this.inFlight = false;
  }

  setJob(jobId, steerable) {
    const changedJob = jobId !== this.jobId;
    const becameSteerable = steerable && (!this.steerable || changedJob);
    this.jobId = jobId;
    this.steerable = steerable;
    if (becameSteerable && Object.keys(this.touched).length) {
      this.pending = { ...this.touched };
      this.schedule();
    }
  }

  set(key, value) {
    this.touched[key] = value;
    this.pending[key] = value;
    this.schedule();
  }

  schedule() {
    if (!this.jobId || !this.steerable) {
      this.onHint("Saved here; sent once a Deforum job is queued or rendering.");
      return;
    }
    clearTimeout(this.timer);
    const wait = Math.max(0, this.lastSent + SEND_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  async flush() {
    if (this.inFlight) {
      this.timer = setTimeout(() => this.flush(), SEND_INTERVAL_MS);
      return;
    }
    const body = this.pending;
    if (!Object.keys(body).length || !this.jobId) return;
    this.pending = {};
    this.inFlight = true;
    this.lastSent = Date.now();
    const jobId = this.jobId;
    try {
      const result = await api(`/api/video-jobs/${jobId}/steering`, { method: "PATCH", json: body });
      this.onSent(result);
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) {
        this.pending = { ...body, ...this.pending };
        this.lastSent = Date.now() + error.retryAfter * 1000;
        this.onHint(`Too many changes at once; sending again in ${error.retryAfter || 1} s.`);
        this.schedule();
      } else if (error instanceof ApiError && error.status === 409) {
        this.steerable = false;
        this.onHint(error.message);
      } else {
        this.onError(error);
      }
    } finally {
      this.inFlight = false;
    }
  }
}

/** Wire the control panel to `sender`; returns a function that shows values. */
export function buildControls(root, sender) {
  const setters = {};
  const onChange = (key, value) => sender.set(key, value);
  const motion = root.querySelector("#motion-sliders");
  const settings = root.querySelector("#setting-sliders");
  for (const spec of MOTION) setters[spec.key] = slider(motion, spec, onChange);
  for (const spec of SETTINGS) setters[spec.key] = slider(settings, spec, onChange);
  const specs = Object.fromEntries([...MOTION, ...SETTINGS].map((spec) => [spec.key, spec]));
  const values = Object.fromEntries([...MOTION, ...SETTINGS].map((spec) => [spec.key, spec.value]));

  const setValue = (key, value) => {
    values[key] = value;
    setters[key](value);
    sender.set(key, value);
  };
  const step = root.querySelector("#step");
  for (const button of root.querySelectorAll("[data-nudge]")) {
    button.addEventListener("click", () => {
      const key = button.dataset.nudge;
      const amount = Number(step.value) || 0.1;
      const current = Number(root.querySelector(`#ctl-${key}`).value);
      setValue(key, clamp(current + amount * Number(button.dataset.sign), specs[key]));
    });
  }
  root.querySelector("#reset-motion").addEventListener("click", () => {
    for (const key of ["translation_x", "translation_y", "rotation_x", "rotation_y", "rotation_z"]) {
      setValue(key, 0);
    }
  });

  for (const key of ["use_live_prompt", "use_live_strength", "use_live_cfg"]) {
    const box = root.querySelector(`#${key}`);
    box.addEventListener("change", () => sender.set(key, box.checked));
  }
  const text = (selector, key) => {
    const field = root.querySelector(selector);
    field.addEventListener("change", () => sender.set(key, field.value.trim() || null));
  };
  text("#live-prompt", "positive_prompt");
  text("#live-negative", "negative_prompt");

  const seed = root.querySelector("#live-seed");
  seed.addEventListener("change", () => {
    sender.set("seed", seed.value === "" ? null : Math.trunc(Number(seed.value)));
  });
  const behaviour = root.querySelector("#seed-behavior");
  behaviour.addEventListener("change", () => sender.set("seed_behavior", behaviour.value || null));

  const easeFrames = root.querySelector("#ease_frames");
  const easeOut = root.querySelector("#ease_frames-out");
  easeFrames.addEventListener("input", () => {
    easeOut.textContent = easeFrames.value;
    sender.set("ease_frames", Number(easeFrames.value));
  });
  const curve = root.querySelector("#ease_curve");
  curve.addEventListener("change", () => sender.set("ease_curve", curve.value));

  /** Show stored steering values without sending them back. */
  return function show(steering) {
    if (!steering) return;
    for (const [key, setter] of Object.entries(setters)) {
      if (typeof steering[key] === "number") setter(steering[key]);
    }
    for (const key of ["use_live_prompt", "use_live_strength", "use_live_cfg"]) {
      root.querySelector(`#${key}`).checked = Boolean(steering[key]);
    }
    if (typeof steering.ease_frames === "number") {
      easeFrames.value = String(steering.ease_frames);
      easeOut.textContent = easeFrames.value;
    }
    if (steering.ease_curve) curve.value = steering.ease_curve;
  };
}
