// The worker's entry point: the handlers the Rust crate exports (through
// wasm-bindgen's `index.js`), bound to the runtime's module-worker class.
// `cargo xtask` copies this file next to the bindings it generates.
import { WorkerEntrypoint } from "cloudflare:workers";
import * as wasm from "./index.js";

// Shared with the crate: its panic hook sets `criticalError`.
const state = wasm.__worker_init_state();

// A panic aborts, and an aborted instance fails every later call; the next
// request gets a fresh instance instead.
async function guarded(call) {
  if (state.criticalError) {
    wasm.__wbg_reset_state();
    state.criticalError = false;
  }
  try {
    return await call();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) state.criticalError = true;
    throw e;
  }
}

export default class Reverie extends WorkerEntrypoint {
  fetch(request) {
    return guarded(() => wasm.fetch(request, this.env, this.ctx));
  }

  scheduled(controller) {
    return guarded(() => wasm.scheduled(controller, this.env, this.ctx));
  }
}
