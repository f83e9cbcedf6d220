// s3seal console: uploads (large files in 8 MiB parts, with progress), delete, share.
// No inline script anywhere: the CSP forbids it. Every state-changing call carries the
// session's CSRF token in X-CSRF-Token.
(function () {
  "use strict";
  const PART = 8 * 1024 * 1024;
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  const bucket = document.body.dataset.bucket;
  const prefix = document.body.dataset.prefix || "";

  function q(params) {
    return Object.entries(params)
      .map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v))
      .join("&");
  }

  // One API call; resolves with the JSON answer, rejects with the server's message.
  function api(method, action, params, body, contentType, onProgress) {
    return new Promise(function (resolve, reject) {
      const x = new XMLHttpRequest();
      x.open(method, "/console/api/" + action + "?" + q(params));
      x.setRequestHeader("X-CSRF-Token", csrf);
      if (contentType) x.setRequestHeader("Content-Type", contentType);
      if (onProgress) x.upload.onprogress = function (e) { onProgress(e.loaded); };
      x.onload = function () {
        let v = {};
        try { v = JSON.parse(x.responseText || "{}"); } catch (e) { v = { error: x.statusText }; }
        if (x.status >= 200 && x.status < 300) resolve(v);
        else reject(new Error(v.error || ("HTTP " + x.status)));
      };
      x.onerror = function () { reject(new Error("network error")); };
      x.send(body === undefined ? null : body);
    });
  }

  async function uploadOne(file, report) {
    const key = prefix + file.name;
    const type = file.type || "application/octet-stream";
    if (file.size <= PART) {
      await api("PUT", "object", { bucket: bucket, key: key }, file, type, report);
      report(file.size);
      return;
    }
    const created = await api("POST", "mpu/create", { bucket: bucket, key: key }, undefined, type);
    const id = created.upload_id;
    const parts = [];
    try {
      for (let off = 0, n = 1; off < file.size; off += PART, n++) {
        const blob = file.slice(off, Math.min(off + PART, file.size));
        const r = await api("PUT", "mpu/part", { bucket: bucket, key: key, upload_id: id, part: n },
          blob, "application/octet-stream", function (done) { report(off + done); });
        parts.push({ part: n, etag: r.etag });
      }
      await api("POST", "mpu/complete", { bucket: bucket, key: key, upload_id: id },
        JSON.stringify({ parts: parts }), "application/json");
      report(file.size);
    } catch (e) {
      api("POST", "mpu/abort", { bucket: bucket, key: key, upload_id: id }).catch(function () {});
      throw e;
    }
  }

  async function upload(files) {
    const status = document.getElementById("upload-status");
    const bar = document.getElementById("upload-progress");
    const list = Array.from(files);
    const total = list.reduce(function (a, f) { return a + f.size; }, 0) || 1;
    let before = 0;
    bar.max = total;
    bar.value = 0;
    status.textContent = "uploading…";
    try {
      for (const f of list) {
        status.textContent = "uploading " + f.name + "…";
        await uploadOne(f, function (done) { bar.value = before + done; });
        before += f.size;
      }
      bar.value = total;
      status.textContent = "done";
    } catch (e) {
      status.textContent = "error: " + e.message;
    }
  }

  const input = document.getElementById("file-input");
  if (input) input.addEventListener("change", function () { upload(input.files); });
  const drop = document.getElementById("drop");
  if (drop) {
    drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      drop.classList.remove("over");
      upload(e.dataTransfer.files);
    });
  }

  document.querySelectorAll("tr.object").forEach(function (row) {
    const key = row.dataset.key;
    const del = row.querySelector("button.delete");
    if (del) del.addEventListener("click", function () {
      if (!window.confirm("Delete " + key + "? This cannot be undone.")) return;
      api("POST", "delete", { bucket: bucket, key: key })
        .then(function () { window.location.reload(); })
        .catch(function (e) { window.alert("Delete failed: " + e.message); });
    });
    const share = row.querySelector("button.share");
    if (share) share.addEventListener("click", function () {
      const expires = document.getElementById("share-expiry").value;
      const out = document.getElementById("share-url");
      api("POST", "share", { bucket: bucket, key: key, expires: expires })
        .then(function (v) { out.value = v.url; out.select(); })
        .catch(function (e) { out.value = ""; window.alert("Share failed: " + e.message); });
    });
  });
})();
