// DeforumationQT web console: wires the page to the Mage Studio API.

import { api, ApiError, getToken, setToken, unwrap } from "./api.js";
import { buildControls, SteeringSender } from "./controls.js";
import { Stage } from "./preview.js";
import { JobWatcher, OverviewWatcher } from "./stream.js";

const $ = (selector) => document.querySelector(selector);
const STEERABLE = new Set(["approved", "processing"]);

const state = {
  jobs: [],
  job: null,
  models: [],
  presets: [],
};

// --- messages ----------------------------------------------------------------

function showError(error) {
  const box = $("#error");
  $("#error-message").textContent = error.message || String(error);
  const fields = [];
  const validator = error instanceof ApiError ? error.validator : null;
  for (const [name, messages] of Object.entries(validator || {})) {
    for (const message of messages) {
      const item = document.createElement("li");
      item.textContent = `${name}: ${message}`;
      fields.push(item);
    }
  }
  $("#error-fields").replaceChildren(...fields);
  box.hidden = false;
}

function clearError() {
  $("#error").hidden = true;
}

let noticeTimer = null;
function notice(text) {
  const box = $("#notice");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (box.hidden = true), 4000);
}

async function attempt(action) {
  clearError();
  try {
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

// --- formatting --------------------------------------------------------------

function duration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const minutes = Math.floor(total / 60);
  const rest = String(total % 60).padStart(2, "0");
  return minutes ? `${minutes}m ${rest}s` : `${total}s`;
}

function number(value) {
  return typeof value === "number" ? String(Math.round(value * 10000) / 10000) : String(value);
}

function jobLabel(job) {
  const name = job.original_filename ? ` · ${job.original_filename}` : "";
  return `#${job.id} · ${job.generator} · ${job.status}${name}`;
}

// --- catalogs and jobs -------------------------------------------------------

function fillSelect(select, items, value, label) {
  const options = items.map((item) => {
    const option = document.createElement("option");
    option.value = String(value(item));
    option.textContent = label(item);
    return option;
  });
  select.replaceChildren(...options);
}

async function loadCatalogs() {
  const [models, presets] = await Promise.all([api("/api/models"), api("/api/deforum/presets")]);
  state.models = unwrap(models) || [];
  state.presets = unwrap(presets) || [];
  fillSelect($("#model"), state.models, (m) => m.id, (m) => `${m.name} · ${m.credits_per_frame} cr/frame`);
  fillSelect($("#preset"), state.presets, (p) => p.slug, (p) => p.name);
}

async function loadJobs(selectId) {
  state.jobs = (await api("/api/queue?per_page=100")) || [];
  const picker = $("#job-picker");
  const placeholder = document.createElement("option");
  placeholder.value = "";
  placeholder.textContent = state.jobs.length ? "— pick a job —" : "— upload a clip first —";
  fillSelect(picker, state.jobs, (job) => job.id, jobLabel);
  picker.prepend(placeholder);
  const finished = state.jobs.filter((job) => job.generator === "deforum" && job.status === "finished");
  const extend = $("#extend-from");
  const first = extend.options[0];
  fillSelect(extend, finished, (job) => job.id, jobLabel);
  extend.prepend(first);
  const wanted = selectId ?? state.job?.id;
  picker.value = wanted ? String(wanted) : "";
  if (wanted && picker.value === String(wanted)) {
    selectJob(state.jobs.find((job) => job.id === Number(wanted)), { keepStream: !selectId });
  }
}

function fillForm(job) {
  const params = job.generation_parameters || {};
  const set = (selector, value) => {
    if (value !== undefined && value !== null && value !== "") $(selector).value = String(value);
  };
  set("#prompt", job.prompt ?? params.prompt);
  set("#negative", job.negative_prompt ?? params.negative_prompt);
  set("#model", job.model_id ?? params.modelId);
  set("#preset", params.preset);
  set("#length", params.length);
  set("#fps", params.fps);
  set("#seed", job.seed ?? params.seed);
  set("#frame-count", params.frameCount);
  set("#cfg-scale", params.cfgScale);
  set("#denoising", params.denoising ?? job.denoising);
}

function showGenerator(generator) {
  for (const element of document.querySelectorAll(".deforum-only")) {
    element.hidden = generator !== "deforum";
  }
}

function selectJob(job, { keepStream = false } = {}) {
  const changed = state.job?.id !== job?.id;
  state.job = job || null;
  if (!job) {
    watcher.watch(null);
    stage.reset();
    $("#job-line").textContent = "No job selected.";
    sender.setJob(null, false);
    return;
  }
  fillForm(job);
  showGenerator(job.generator);
  $("#job-line").textContent = jobLabel(job);
  if (changed) stage.reset();
  if (changed || !keepStream) watcher.watch(job.id);
  updateSteerable(job);
}

function updateSteerable(job) {
  const steerable = job.generator === "deforum" && STEERABLE.has(job.status);
  sender.setJob(job.id, steerable);
  $("#steer-state").textContent = steerable
    ? "Steering this job live: changes apply from the next frame after the worker's heartbeat."
    : "Steering applies to queued or rendering Deforum jobs.";
}

// --- render requests ---------------------------------------------------------

function numberField(selector, { integer = false } = {}) {
  const raw = $(selector).value.trim();
  if (raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) return raw;
  return integer ? Math.trunc(value) : value;
}

function textField(selector) {
  const value = $(selector).value.trim();
  return value === "" ? undefined : value;
}

function compact(body) {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

function generateBody(job, extra = {}) {
  const common = {
    videoId: job.id,
    type: job.generator,
    modelId: numberField("#model", { integer: true }),
    prompt: textField("#prompt"),
    negative_prompt: textField("#negative"),
    seed: numberField("#seed", { integer: true }),
    frameCount: numberField("#frame-count", { integer: true }),
    cfgScale: numberField("#cfg-scale", { integer: true }),
    denoising: numberField("#denoising"),
  };
  if (job.generator === "deforum") {
    Object.assign(common, {
      preset: textField("#preset"),
      length: numberField("#length"),
      fps: numberField("#fps"),
    });
  }
  return compact({ ...common, ...extra });
}

function finalizeBody(job) {
  if (job.generator !== "deforum") return { videoId: job.id };
  return compact({
    videoId: job.id,
    modelId: numberField("#model", { integer: true }),
    preset: textField("#preset"),
    prompt: textField("#prompt"),
    length: numberField("#length"),
    seed: numberField("#seed", { integer: true }),
  });
}

function requireJob() {
  if (!state.job) throw new Error("Pick a job first (or upload a clip).");
  return state.job;
}

async function afterAction(job, message) {
  stage.reset();
  await loadJobs(job.id);
  notice(message);
}

async function generate() {
  const job = requireJob();
  const result = await api("/api/generate", { method: "POST", json: generateBody(job) });
  $("#seed").value = String(result.seed ?? "");
  await afterAction(job, `Preview queued (seed ${result.seed}).`);
}

async function finalize() {
  const job = requireJob();
  await api("/api/finalize", { method: "POST", json: finalizeBody(job) });
  await afterAction(job, "Full render queued.");
}

async function cancel() {
  const job = requireJob();
  const result = await api(`/api/cancelJob/${job.id}`, { method: "POST" });
  await afterAction(job, result.cancel_requested ? "Cancel requested: the worker stops at the next frame." : "Job cancelled.");
}

async function extend() {
  const job = requireJob();
  const base = Number($("#extend-from").value);
  if (!base) throw new Error("Choose the finished Deforum job to extend from.");
  const body = generateBody({ ...job, generator: "deforum" }, { type: "deforum", extendFromJobId: base });
  delete body.preset;
  delete body.modelId;
  await api("/api/generate", { method: "POST", json: body });
  await afterAction(job, `Extension of #${base} queued.`);
}

async function upload(event) {
  event.preventDefault();
  const file = $("#attachment").files[0];
  if (!file) throw new Error("Choose a clip or still to upload.");
  const form = new FormData();
  form.append("attachment", file);
  const soundtrack = $("#soundtrack").files[0];
  if (soundtrack) form.append("soundtrack", soundtrack);
  form.append("type", $("#upload-type").value);
  $("#upload-button").disabled = true;
  try {
    const result = await api("/api/upload", { method: "POST", form });
    await loadJobs(result.id);
    notice(`Uploaded as job #${result.id}.`);
  } finally {
    $("#upload-button").disabled = false;
  }
}

// --- live view ---------------------------------------------------------------

function showProgress(progress, eta) {
  const value = Math.max(0, Math.min(100, Number(progress) || 0));
  $("#progress").value = value;
  $("#progress-text").textContent = `${Math.round(value * 10) / 10} %`;
  if (eta !== undefined) $("#eta-text").textContent = eta > 0 ? `ETA ${duration(eta)}` : "";
}

function showQueue(queue, eta) {
  const text = $("#queue-text");
  if (queue && typeof queue === "object" && !Array.isArray(queue)) {
    text.textContent = `Queue position ${queue.your_position} · starts in ${duration(queue.estimated_start_in)}`;
  } else {
    text.textContent = "";
  }
  if (eta !== undefined) $("#eta-text").textContent = eta > 0 ? `ETA ${duration(eta)}` : "";
}

function showLiveValues(applied) {
  const list = $("#live-values");
  if (!applied || !applied.values) return;
  const rows = [["frame", applied.frame]];
  for (const [key, value] of Object.entries(applied.values)) {
    if (value && typeof value === "object") {
      for (const [inner, innerValue] of Object.entries(value)) rows.push([`${key}.${inner}`, innerValue]);
    } else {
      rows.push([key, value]);
    }
  }
  const cells = rows.flatMap(([key, value]) => {
    const term = document.createElement("dt");
    term.textContent = key;
    const detail = document.createElement("dd");
    detail.textContent = number(value);
    return [term, detail];
  });
  list.replaceChildren(...cells);
}

function onState(job) {
  if (!state.job || job.id !== state.job.id) return;
  const badge = $("#status");
  badge.textContent = job.cancel_requested && job.status === "processing" ? "cancelling" : job.status;
  badge.dataset.status = job.status;
  showProgress(job.progress, job.estimated_time_left);
  showQueue(job.queue, job.estimated_time_left);
  if (job.applied) showLiveValues(job.applied);
  if (job.steering) showSteering(job.steering);
  if (job.frame) stage.showFrame(job.frame);
  if (job.error_message) showError(new Error(job.error_message));
  stage.showResult(job);
  state.job = { ...state.job, status: job.status };
  const known = state.jobs.find((row) => row.id === job.id);
  if (known && known.status !== job.status) {
    known.status = job.status;
    const option = $(`#job-picker option[value="${job.id}"]`);
    if (option) option.textContent = jobLabel(known);
  }
  $("#job-line").textContent = jobLabel(state.job);
  updateSteerable(state.job);
}

function onProgress(data) {
  showProgress(data.progress, data.estimated_time_left);
  if (data.applied) showLiveValues(data.applied);
}

function showOverview(data) {
  const counts = data.counts || {};
  $("#counts").textContent = `${counts.processing ?? 0} rendering · ${counts.queued ?? 0} queued (all users)`;
  const jobs = [...(data.processing || []), ...(data.queue || [])];
  if (!jobs.length) {
    const empty = document.createElement("li");
    empty.className = "muted";
    empty.textContent = "Nothing rendering or queued.";
    $("#overview").replaceChildren(empty);
    return;
  }
  $("#overview").replaceChildren(...jobs.map(overviewItem));
}

function overviewItem(job) {
  const item = document.createElement("li");
  const title = document.createElement("button");
  title.type = "button";
  title.textContent = `#${job.id} ${job.status}`;
  title.addEventListener("click", () => loadJobs(job.id).catch(showError));
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = Number(job.progress) || 0;
  const detail = document.createElement("span");
  detail.className = "muted";
  const queue = job.queue && !Array.isArray(job.queue) ? job.queue : null;
  detail.textContent = queue
    ? `#${queue.your_position} in queue · ${duration(job.estimated_time_left)}`
    : `${Math.round(Number(job.progress) || 0)} % · ${duration(job.estimated_time_left)}`;
  item.append(title, bar, detail);
  return item;
}

// --- start -------------------------------------------------------------------

const stage = new Stage(document);
const watcher = new JobWatcher({
  state: onState,
  progress: onProgress,
  queue: (data) => showQueue(data.queue, data.estimated_time_left),
  frame: (frame) => stage.showFrame(frame),
  steering: (values) => showSteering(values),
  mode: (mode) => ($("#stream-state").textContent = mode === "live" ? "● live" : mode),
  error: showError,
});
const overview = new OverviewWatcher(showOverview);
const sender = new SteeringSender({
  onSent: (result) => ($("#steer-state").textContent = `Sent · job #${result.job_id} (${result.status})`),
  onError: showError,
  onHint: (text) => ($("#steer-state").textContent = text),
});
const showSteering = buildControls(document, sender);

async function connect() {
  const token = getToken();
  $("#token").value = token;
  if (!token) {
    $("#whoami").textContent = "No token yet.";
    return;
  }
  const me = unwrap(await api("/api/auth/me"));
  $("#whoami").textContent = `Signed in as ${me.login || me.email}`;
  await Promise.all([loadCatalogs(), loadJobs()]);
  overview.start();
}

function bind(selector, event, action) {
  $(selector).addEventListener(event, (domEvent) => attempt(() => action(domEvent)));
}

bind("#token-form", "submit", async (event) => {
  event.preventDefault();
  setToken($("#token").value.trim());
  await connect();
});
bind("#upload-form", "submit", upload);
bind("#jobs-refresh", "click", () => loadJobs());
bind("#job-picker", "change", () => {
  const id = Number($("#job-picker").value);
  selectJob(state.jobs.find((job) => job.id === id));
});
bind("#generate", "click", generate);
bind("#finalize", "click", finalize);
bind("#cancel", "click", cancel);
bind("#extend", "click", extend);
$("#error-close").addEventListener("click", clearError);

attempt(connect);
