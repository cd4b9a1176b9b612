// The preview pane: newest frame, film strip of frames so far, and the result.

const STRIP_LIMIT = 120;
const THUMB_HEIGHT = 54;

/** Add a cache-busting index to same-origin frame links (the file is reused). */
function frameSource(frame) {
  const url = new URL(frame.url, location.href);
  if (url.origin === location.origin) {
    url.searchParams.set("frame", String(frame.index));
  }
  return url.href;
}

export class Stage {
  constructor(root) {
    this.image = root.querySelector("#frame");
    this.video = root.querySelector("#result");
    this.empty = root.querySelector("#stage-empty");
    this.strip = root.querySelector("#filmstrip");
    this.links = root.querySelector("#links");
    this.lastIndex = -1;
    this.resultKey = "";
    this.image.addEventListener("load", () => this.addThumbnail());
  }

  reset() {
    this.lastIndex = -1;
    this.resultKey = "";
    this.strip.replaceChildren();
    this.links.replaceChildren();
    this.image.hidden = true;
    this.image.removeAttribute("src");
    this.video.hidden = true;
    this.video.removeAttribute("src");
    this.video.load();
    this.empty.hidden = false;
  }

  showFrame(frame) {
    if (!frame || !frame.url || frame.index === this.lastIndex) return;
    this.lastIndex = frame.index;
    this.image.dataset.index = String(frame.index);
    this.image.dataset.kind = "frame";
    this.image.src = frameSource(frame);
    this.image.hidden = false;
    this.video.hidden = true;
    this.empty.hidden = true;
  }

  addThumbnail() {
    if (this.image.dataset.kind !== "frame") return;
    const { naturalWidth: width, naturalHeight: height } = this.image;
    if (!width || !height) return;
    const canvas = document.createElement("canvas");
    canvas.height = THUMB_HEIGHT;
    canvas.width = Math.max(1, Math.round((width / height) * THUMB_HEIGHT));
    canvas.title = `Frame ${this.image.dataset.index}`;
    canvas.getContext("2d").drawImage(this.image, 0, 0, canvas.width, canvas.height);
    this.strip.append(canvas);
    while (this.strip.children.length > STRIP_LIMIT) this.strip.firstElementChild.remove();
    this.strip.scrollLeft = this.strip.scrollWidth;
  }

  /** Show the render's output once the job is previewed or finished. */
  showResult(state) {
    const urls = state.urls || {};
    this.showLinks(urls);
    const key = `${state.status}:${urls.video || ""}:${urls.preview_animation || ""}`;
    if (key === this.resultKey) return;
    if (state.status !== "finished" && state.status !== "preview") return;
    this.resultKey = key;
    if (urls.video) {
      this.video.src = urls.video;
      this.video.hidden = false;
      this.image.hidden = true;
      this.empty.hidden = true;
      this.video.play().catch(() => {});
      return;
    }
    const still = urls.preview_animation || urls.preview_img;
    if (still) {
      this.image.dataset.kind = "result";
      this.image.src = still;
      this.image.hidden = false;
      this.video.hidden = true;
      this.empty.hidden = true;
    }
  }

  showLinks(urls) {
    const names = {
      video: "Video (MP4)",
      preview_animation: "Preview animation",
      preview_img: "Preview image",
      last_frame: "Last frame",
      thumbnail: "Thumbnail",
      original: "Source",
      soundtrack: "Soundtrack",
    };
    const anchors = [];
    for (const [key, label] of Object.entries(names)) {
      if (!urls[key]) continue;
      const anchor = document.createElement("a");
      anchor.href = urls[key];
      anchor.textContent = label;
      anchor.target = "_blank";
      anchor.rel = "noopener noreferrer";
      anchors.push(anchor);
    }
    this.links.replaceChildren(...anchors);
  }
}
