/* Browser-direct uploads for storages.uploads.DirectFileField (no build step, no framework).
 *
 * For each <input type="file" data-storages-upload=ENDPOINT data-storages-rules=TOKEN
 * data-storages-ticket=NAME>: when a file is chosen, ask ENDPOINT (same origin, with the
 * form's CSRF token) where to send it, send it straight to the store (one POST form, or
 * parts PUT to signed URLs, several at a time, each retried after a dropped connection;
 * parts the store already holds are never sent again, even after a reload), then put
 * the signed ticket in the hidden input NAME and empty the file input: the form posts
 * the ticket, never the file. Submitting waits for uploads in progress.
 * If ENDPOINT cannot be reached at all, the file input is left alone and the file
 * goes through Django as with any file field.
 */
(function () {
  "use strict";

  var PARALLEL_PARTS = 3;
  var RETRIES = 6;
  var STATE_KEY = "storages-upload:";

  function csrfToken(form) {
    var field = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function Failure(message, kind) {
    var error = new Error(message);
    error.kind = kind; // "refused" (a rule or the store said no), "network", "unavailable"
    return error;
  }

  function ask(input, body) {
    body.rules = input.getAttribute("data-storages-rules");
    return fetch(input.getAttribute("data-storages-upload"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(input.form) },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        var kind = response.status === 404 || response.status >= 500 ? "unavailable" : "refused";
        throw Failure(data.error || "HTTP " + response.status, kind);
      });
    }, function () {
      throw Failure("the site could not be reached", "unavailable");
    });
  }

  // One request to the store, with upload progress; resolves on 2xx. A failure before any
  // byte went out ("silent") is what a store without CORS for this site looks like.
  function send(method, url, headers, body, onProgress, more) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      var progressed = false;
      xhr.open(method, url);
      Object.keys(headers || {}).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      xhr.upload.onprogress = function (event) {
        if (event.loaded > 0) progressed = true;
        onProgress(event.loaded);
      };
      xhr.onload = function () {
        // 308 (with "more") is a resumable session asking for the next chunk.
        if ((xhr.status >= 200 && xhr.status < 300) || (more && xhr.status === 308)) return resolve(xhr);
        var code = (xhr.responseText.match(/<Code>([^<]+)<\/Code>/) || [])[1] || "";
        var kind = xhr.status >= 500 || xhr.status === 408 ? "network" : "refused";
        reject(Failure("the store refused the file (HTTP " + xhr.status + (code ? " " + code : "") + ")", kind));
      };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () {
        var failure = Failure("the connection to the store dropped", "network");
        failure.silent = !progressed;
        reject(failure);
      };
      xhr.send(body);
    });
  }

  function pause(attempt) {
    return new Promise(function (resolve) { setTimeout(resolve, Math.min(8000, 250 * Math.pow(2, attempt))); });
  }

  function retried(attempt, work) {
    return work().catch(function (error) {
      if (error.kind !== "network" || attempt >= RETRIES) throw error;
      return pause(attempt).then(function () { return retried(attempt + 1, work); });
    });
  }

  // The first request to the store. When it fails without an answer, the server is asked
  // whether the store got it all the same (a store without a CORS rule for this site takes
  // a form POST but hides its answer); if not, and not a byte went out, twice, the store
  // cannot be reached from this page: the file then goes with the form, through Django.
  function firstContact(work, confirm) {
    function attempt(n) {
      return work().catch(function (error) {
        if (error.kind !== "network") throw error;
        return confirm().then(function (stored) {
          if (stored) return null;
          if (error.silent && n >= 1) {
            throw Failure("the store could not be reached from this page", "unavailable");
          }
          if (n >= RETRIES) throw error;
          return pause(n).then(function () { return attempt(n + 1); });
        });
      });
    }
    return attempt(0);
  }

  function Upload(input, file) {
    this.input = input;
    this.file = file;
    this.sent = {}; // bytes sent per part (or per request), for progress
    this.stateKey = STATE_KEY + input.getAttribute("data-storages-ticket") + ":" +
      [file.name, file.size, file.lastModified].join(":");
    var wrapper = input.closest(".storages-direct-upload") || input.parentNode;
    this.status = wrapper.querySelector(".storages-upload-status");
    this.progress = document.createElement("progress");
    this.progress.max = 100;
    this.progress.value = 0;
    this.status.textContent = "";
    this.status.appendChild(this.progress);
    this.label = document.createElement("span");
    this.status.appendChild(this.label);
  }

  Upload.prototype.show = function (text) { this.label.textContent = " " + text; };

  Upload.prototype.tick = function (key, loaded) {
    this.sent[key] = loaded;
    var total = 0;
    for (var part in this.sent) total += this.sent[part];
    var size = this.file.size || 1;
    this.progress.value = Math.min(100, Math.floor((100 * total) / size));
    this.show(Math.min(100, Math.floor((100 * total) / size)) + " %");
  };

  Upload.prototype.run = function (fresh) {
    var self = this;
    var saved = null;
    try { saved = fresh ? null : JSON.parse(window.localStorage.getItem(self.stateKey) || "null"); } catch (e) { saved = null; }
    var started = saved ? Promise.resolve(saved) : ask(self.input, {
      action: "start", name: self.file.name, size: self.file.size, type: self.file.type
    });
    return started.then(function (plan) {
      if (plan.protocol === "post") return self.post(plan).then(function () { return plan; });
      if (plan.protocol === "session") return self.session(plan).then(function () { return plan; });
      try { window.localStorage.setItem(self.stateKey, JSON.stringify(plan)); } catch (e) { /* private mode */ }
      return self.parts(plan).then(function () {
        return ask(self.input, { action: "complete", ticket: plan.ticket });
      }).then(function () { return plan; }, function (error) {
        if (error.kind !== "refused") throw error;
        // An expired or foreign ticket cannot resume: forget it, and start over once.
        window.localStorage.removeItem(self.stateKey);
        if (saved) return self.run(true);
        throw error;
      });
    }).then(function (plan) {
      window.localStorage.removeItem(self.stateKey);
      return plan;
    });
  };

  Upload.prototype.post = function (plan) {
    var self = this;
    return firstContact(function () {
      var form = new FormData();
      Object.keys(plan.fields).forEach(function (name) { form.append(name, plan.fields[name]); });
      form.append("file", self.file);
      return send("POST", plan.url, {}, form, function (loaded) { self.tick("post", loaded); });
    }, function () {
      return ask(self.input, { action: "check", ticket: plan.ticket }).then(function (answer) {
        return answer.stored;
      });
    });
  };

  // A resumable session (GCS): chunks in order; after a dropped connection, ask the
  // session how many bytes it holds and go on from there.
  Upload.prototype.session = function (plan) {
    var self = this;
    var size = self.file.size;
    var chunk = plan.part_size;
    function held() {
      return send("PUT", plan.url, { "Content-Range": "bytes */" + size }, null, function () {}, true)
        .then(function (xhr) {
          if (xhr.status !== 308) return size;
          var range = xhr.getResponseHeader("Range");
          return range ? parseInt(range.split("-")[1], 10) + 1 : 0;
        });
    }
    function from(offset, attempt) {
      if (size > 0 && offset >= size) return Promise.resolve();
      var end = Math.min(offset + chunk, size);
      var range = size ? "bytes " + offset + "-" + (end - 1) + "/" + size : "bytes */0";
      return send("PUT", plan.url, { "Content-Range": range }, self.file.slice(offset, end), function (loaded) {
        self.tick("session", offset + loaded);
      }, true).then(function (xhr) {
        if (xhr.status !== 308) return null;
        var range = xhr.getResponseHeader("Range"); // what the session holds, when readable
        return from(range ? parseInt(range.split("-")[1], 10) + 1 : end, 0);
      }, function (error) {
        if (error.kind !== "network" || attempt >= RETRIES) throw error;
        return pause(attempt).then(held).then(function (offset) { return from(offset, attempt + 1); });
      });
    }
    return from(0, 0);
  };

  Upload.prototype.parts = function (plan) {
    var self = this;
    return ask(self.input, { action: "parts", ticket: plan.ticket }).then(function (answer) {
      var size = answer.part_size;
      var queue = answer.parts.slice();
      var all = Math.max(1, Math.ceil(self.file.size / size));
      for (var n = 1; n <= all; n++) self.sent[n] = Math.min(size, self.file.size - (n - 1) * size);
      queue.forEach(function (part) { self.sent[part.n] = 0; });
      function sendPart(part, attempts) {
        var body = self.file.slice((part.n - 1) * size, part.n * size);
        return attempts(function () {
          return send(part.method, part.url, part.headers, body, function (loaded) { self.tick(part.n, loaded); });
        }, function () {
          return ask(self.input, { action: "parts", ticket: plan.ticket }).then(function (again) {
            return !again.parts.some(function (missing) { return missing.n === part.n; });
          });
        });
      }
      function worker() {
        var part = queue.shift();
        if (!part) return Promise.resolve();
        return sendPart(part, function (work) { return retried(0, work); }).then(worker);
      }
      // One part alone first (the store is reachable), then several at a time.
      var first = queue.length ? sendPart(queue.shift(), firstContact) : Promise.resolve();
      return first.then(function () {
        var workers = [];
        for (var i = 0; i < PARALLEL_PARTS; i++) workers.push(worker());
        return Promise.all(workers);
      });
    });
  };

  function attach(input) {
    if (input.getAttribute("data-storages-bound")) return;
    input.setAttribute("data-storages-bound", "1");
    var form = input.form;
    var ticket = form.elements[input.getAttribute("data-storages-ticket")];
    input.addEventListener("change", function () {
      ticket.value = "";
      var file = input.files && input.files[0];
      if (!file) return;
      var upload = new Upload(input, file);
      upload.show("uploading…");
      input.storagesUpload = upload.run().then(function (plan) {
        ticket.value = plan.ticket;
        input.value = ""; // the form posts the ticket, not the file
        upload.progress.value = 100;
        upload.show("uploaded: " + file.name);
      }, function (error) {
        if (error.kind === "unavailable") {
          upload.show("(will be sent with the form)");
          return; // the file stays in the input and goes through Django
        }
        input.value = "";
        upload.show("not uploaded: " + error.message);
        upload.label.className = "errorlist";
      }).then(function () { input.storagesUpload = null; });
    });
  }

  function pending(form) {
    return Array.prototype.filter.call(form.querySelectorAll("input[data-storages-upload]"), function (input) {
      return input.storagesUpload;
    }).map(function (input) { return input.storagesUpload; });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var waiting = pending(form);
    if (!waiting.length) return;
    event.preventDefault(); // submit again once every upload has finished
    var submitter = event.submitter;
    Promise.all(waiting).then(function () {
      if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      else form.submit();
    });
  }, true);

  function bindAll() {
    Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-storages-upload]"), attach);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bindAll);
  else bindAll();
  // Inline formsets add rows later (Django's admin sends "formset:added").
  document.addEventListener("formset:added", bindAll);
})();
