// chute's upload page: Uppy's Dashboard, uploading straight to S3 through chute's
// Companion-style signing routes (/v1/s3/...), then each file's job followed to its end.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("chute-config").textContent);
  const KEY_STORE = "chute-api-key";
  const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
  const IMAGE = /\.(jpe?g|png|webp|gif)$/i;
  const keyInput = document.getElementById("api-key");
  const messages = document.getElementById("messages");
  const jobList = document.getElementById("jobs");

  keyInput.value = sessionStorage.getItem(KEY_STORE) || "";

  function say(text) {
    const line = document.createElement("p");
    line.textContent = text;
    messages.append(line);
  }

  function headers() {
    const key = keyInput.value.trim();
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  // Uppy's errors become readable lines on the page, not console traces.
  const logger = {
    debug() {},
    warn() {},
    error(...args) {
      const err = args.find((a) => a instanceof Error);
      if (err && !err.isAuthError && !messages.textContent.includes(err.message)) say(err.message);
    },
  };

  const uppy = new Uppy.Uppy({ id: "chute", logger, autoProceed: false })
    .use(Uppy.Dashboard, {
      inline: true,
      target: "#uploader",
      height: 340,
      width: "100%",
      showProgressDetails: true,
      proudlyDisplayPoweredByUppy: false,
    })
    .use(Uppy.AwsS3, {
      id: "AwsS3",
      endpoint: config.api,
      headers: headers(),
      shouldUseMultipart: (file) => (file.size || 0) > config.multipartAbove,
      allowedMetaFields: ["size", "processors"],
    })
    .use(Uppy.GoldenRetriever, {
      indexedDB: { maxFileSize: config.resumeMaxBytes, maxTotalSize: config.resumeMaxBytes * 4 },
    });

  keyInput.addEventListener("input", () => {
    sessionStorage.setItem(KEY_STORE, keyInput.value.trim());
    uppy.getPlugin("AwsS3").setOptions({ headers: headers() });
    messages.replaceChildren();
  });
  document.getElementById("credentials").addEventListener("submit", (e) => e.preventDefault());

  // The declared size travels as metadata: chute checks it before signing anything.
  uppy.on("file-added", (file) => uppy.setFileMeta(file.id, { size: file.size }));

  uppy.on("upload", () => {
    if (!keyInput.value.trim()) say("Enter an API key first.");
  });

  uppy.on("upload-error", (file, error) => {
    const name = file ? file.name : "upload";
    if (error && error.isAuthError) {
      say(`${name}: the API refused this key (401): check it and retry`);
    } else {
      say(`${name}: ${error && error.message ? error.message : error}`);
    }
  });

  uppy.on("upload-success", (file, response) => {
    // Multipart: chute's complete answer names the job. One POST: S3's Location is
    // the object's URL, and chute's key ends with the job id.
    const body = (response && response.body) || {};
    const location = body.location || response.uploadURL || "";
    const jobId = body.job_id || decodeURIComponent(location.split("?")[0].split("/").pop());
    follow(file.name, jobId);
  });

  async function api(path) {
    const answer = await fetch(`${config.api}${path}`, { headers: headers() });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.detail || body.title || `HTTP ${answer.status}`);
    return body;
  }

  function entry(name, jobId) {
    const item = document.createElement("li");
    item.dataset.job = jobId;
    const title = document.createElement("span");
    title.className = "name";
    title.textContent = name;
    const id = document.createElement("span");
    id.className = "job-id";
    id.textContent = ` ${jobId}`;
    const state = document.createElement("span");
    state.className = "state";
    const results = document.createElement("div");
    results.className = "results";
    item.append(title, id, state, results);
    jobList.prepend(item);
    return { state, results };
  }

  function show(view, job) {
    view.state.dataset.state = job.state;
    const code = job.state === "FAILED" && job.error ? ` (${job.error.code})` : "";
    view.state.textContent = `${job.state}${code}`;
  }

  async function showResults(view, jobId) {
    const result = await api(`/jobs/${encodeURIComponent(jobId)}/result`);
    for (const object of result.objects) {
      const link = document.createElement("a");
      link.href = object.url;
      link.rel = "noopener";
      link.textContent = `${object.processor}/${object.name}`;
      if (IMAGE.test(object.name) && object.processor === "thumbnail") {
        const image = document.createElement("img");
        image.src = object.url;
        image.alt = `thumbnail ${object.name}`;
        link.prepend(image);
      }
      view.results.append(link);
    }
  }

  async function follow(name, jobId) {
    const view = entry(name, jobId);
    for (let delay = 500; ; delay = Math.min(delay * 1.5, 5000)) {
      try {
        const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
        show(view, job);
        if (TERMINAL.has(job.state)) {
          if (job.state === "SUCCEEDED") await showResults(view, jobId);
          return;
        }
      } catch (err) {
        say(`${name}: ${err.message}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
})();
