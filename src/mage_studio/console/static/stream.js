// Live updates: server-sent events with a polling fallback.

import { api, getToken } from "./api.js";

const TERMINAL = new Set(["finished", "error", "cancelled"]);
const JOB_POLL_MS = 3000;
const OVERVIEW_POLL_MS = 5000;
const RETRY_STREAM_MS = 30000;

function streamUrl(path) {
  return `${path}?token=${encodeURIComponent(getToken())}`;
}

function parse(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

/**
 * Follows one job. Handlers: state (snapshot, status and final events, and
 * polled status), progress, queue, frame, steering, mode ("live", "polling",
 * "reconnecting", "ended") and error.
 */
export class JobWatcher {
  constructor(handlers) {
    this.handlers = handlers;
    this.jobId = null;
    this.source = null;
    this.pollTimer = null;
    this.retryTimer = null;
  }

  emit(name, value) {
    const handler = this.handlers[name];
    if (handler) handler(value);
  }

  watch(jobId) {
    this.stop();
    this.jobId = jobId;
    if (jobId) this.open();
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
    clearTimeout(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.pollTimer = null;
    this.jobId = null;
  }

  open() {
    const jobId = this.jobId;
    const source = new EventSource(streamUrl(`/api/video-jobs/${jobId}/events`));
    this.source = source;
    const on = (name, handler) =>
      source.addEventListener(name, (event) => {
        if (this.source !== source) return;
        const data = parse(event);
        if (data) handler(data);
      });
    source.addEventListener("open", () => {
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
      this.emit("mode", "live");
    });
    on("snapshot", (state) => this.emit("state", state));
    on("status", (state) => this.emit("state", state));
    on("progress", (data) => this.emit("progress", data));
    on("queue", (data) => this.emit("queue", data));
    on("frame", (data) => this.emit("frame", data));
    on("steering", (data) => this.emit("steering", data.steering));
    on("final", (state) => {
      source.close();
      this.emit("state", state);
      this.emit("mode", "ended");
    });
    on("gone", () => {
      source.close();
      this.emit("mode", "ended");
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (expired token, unknown job) or it
        // cannot be opened at all: ask for the status now and then instead.
        this.source = null;
        this.startPolling();
      } else {
        this.emit("mode", "reconnecting");
      }
    });
  }

  startPolling() {
    if (this.pollTimer || !this.jobId) return;
    this.emit("mode", "polling");
    const jobId = this.jobId;
    const poll = async () => {
      if (this.jobId !== jobId) return;
      try {
        const status = await api(`/status/${jobId}`);
        if (this.jobId !== jobId) return;
        this.emit("state", { ...status, final: TERMINAL.has(status.status) });
        if (TERMINAL.has(status.status)) {
          this.pollTimer = null;
          clearTimeout(this.retryTimer);
          this.emit("mode", "ended");
          return;
        }
      } catch (error) {
        this.emit("error", error);
      }
      this.pollTimer = setTimeout(poll, JOB_POLL_MS);
    };
    poll();
    this.retryTimer = setTimeout(() => {
      if (this.jobId !== jobId || this.source) return;
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
      this.open();
    }, RETRY_STREAM_MS);
  }
}

/** Follows the caller's processing overview; `onData` gets each version. */
export class OverviewWatcher {
  constructor(onData, onMode) {
    this.onData = onData;
    this.onMode = onMode || (() => {});
    this.source = null;
    this.pollTimer = null;
  }

  start() {
    this.stop();
    const source = new EventSource(streamUrl("/api/video-jobs/processing/events"));
    this.source = source;
    source.addEventListener("processing", (event) => {
      const data = parse(event);
      if (data) this.onData(data);
    });
    source.addEventListener("open", () => this.onMode("live"));
    source.addEventListener("error", () => {
      if (this.source === source && source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.poll();
      }
    });
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  async poll() {
    this.onMode("polling");
    try {
      this.onData(await api("/api/video-jobs/processing/status"));
    } catch {
      // The job view reports errors; the overview just tries again.
    }
    this.pollTimer = setTimeout(() => this.poll(), OVERVIEW_POLL_MS);
  }
}
