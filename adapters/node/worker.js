// worker.js -- one worker thread of a patron-client Client's pool.
//
// Owns: one libpatronclient handle (koffi) used only by this thread, and the blocking
// patron_call_json() calls the main thread posts to it. Invariants: one job at a time; every
// job gets exactly one reply {id, text, status} (text null + loadError when the library could
// not be loaded); the job's timeout is what the main thread has left of the call's deadline,
// so a hung daemon holds this thread, never libuv's threadpool, for at most that long; a job
// whose deadline passed before this thread could run it is answered {expired: true} unsent.
'use strict';

const { parentPort, workerData } = require('worker_threads');

let api = null;
let handle = null;
let loadError = null;
try {
  const binding = require('./binding');
  api = binding.loadLibrary(workerData.library);
  handle = binding.openHandle(api, workerData.socketPath, workerData.timeoutMs, workerData.tls);
} catch (e) {
  loadError = String(e && e.message ? e.message : e);
}

parentPort.postMessage({ ready: true });

const nowAbs = () => performance.timeOrigin + performance.now();

parentPort.on('message', (job) => {
  if (job.close) {
    if (handle) api.close(handle);
    handle = null;
    parentPort.close();
    return;
  }
  if (loadError) {
    parentPort.postMessage({ id: job.id, text: null, status: null, loadError });
    return;
  }
  const left = Math.floor(job.deadline - nowAbs());
  if (left <= 0) {
    parentPort.postMessage({ id: job.id, expired: true });
    return;
  }
  api.setTimeout(handle, left);
  const st = [0];
  const text = api.callJson(handle, job.method, job.body, st);
  parentPort.postMessage({ id: job.id, text, status: st[0] });
});
