//! The compute device, chosen at run time: burn's `flex` CPU backend or wgpu (WebGPU in the
//! browser, Vulkan/Metal/DX12 natively, Mesa lavapipe on a machine without a GPU). And the two
//! things long jobs need from their host: a clock and a way to let the event loop run.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::error::{Error, Result};

/// The device a session runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Cpu,
    Gpu,
}

/// What the caller asks for: a backend, or "auto" (the GPU when an adapter exists, else the CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    Auto,
    Cpu,
    Gpu,
}

impl BackendChoice {
    /// "auto", "cpu" or "gpu" (also "webgpu", "wgpu"); the error lists them.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" | "webgpu" | "wgpu" => Ok(Self::Gpu),
            other => Err(Error::input(format!("unknown backend \"{other}\" (use auto, cpu or gpu)"))),
        }
    }
}

// The wgpu runtime can be initialised once per process; later engines reuse its device.
#[cfg(feature = "gpu")]
static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();

/// The device for `backend`. Errors: no GPU adapter (kind `Backend`, with wgpu's reason).
pub async fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        Backend::Gpu => gpu().await,
    }
}

#[cfg(feature = "gpu")]
async fn gpu() -> Result<Device> {
    if let Some(d) = GPU.get() {
        return Ok(d.clone());
    }
    let d = Device::wgpu_options().init_async().await.map_err(|e| Error::backend(adapter_error(&e.to_string())))?;
    Ok(GPU.get_or_init(|| d).clone())
}

/// Built without the `gpu` feature (the page's default CPU module): "auto" falls back with this
/// reason and "gpu" is refused with it.
#[cfg(not(feature = "gpu"))]
async fn gpu() -> Result<Device> {
    Err(Error::backend("no GPU backend in this build (it was built without the `gpu` feature)"))
}

/// A reader-facing reason from wgpu's error, which lists every API it tried and ends in Rust
/// debug output: its first sentence, without the `{ … }` part.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
fn adapter_error(detail: &str) -> String {
    let first = detail.split(['\n', ':']).next().unwrap_or(detail);
    let plain = first.split(" for ").next().unwrap_or(first).split('{').next().unwrap_or(first).trim();
    if plain.is_empty() { "no usable GPU adapter".to_string() } else { format!("no usable GPU adapter ({plain})") }
}

/// The device for `choice`, the backend it is, and why "auto" fell back to the CPU, if it did.
pub async fn choose(choice: BackendChoice) -> Result<(Device, Backend, Option<String>)> {
    match choice {
        BackendChoice::Cpu => Ok((device(Backend::Cpu).await?, Backend::Cpu, None)),
        BackendChoice::Gpu => Ok((device(Backend::Gpu).await?, Backend::Gpu, None)),
        BackendChoice::Auto => match device(Backend::Gpu).await {
            Ok(d) => Ok((d, Backend::Gpu, None)),
            Err(e) => Ok((device(Backend::Cpu).await?, Backend::Cpu, Some(e.message))),
        },
    }
}

/// Milliseconds on a monotonic clock (`performance.now()` in the browser).
#[cfg(target_family = "wasm")]
pub fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    let global = js_sys::global();
    let performance = match global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        Some(worker) => worker.performance(),
        None => global.dyn_ref::<web_sys::Window>().and_then(|w| w.performance()),
    };
    performance.map_or_else(js_sys::Date::now, |p| p.now())
}

#[cfg(not(target_family = "wasm"))]
pub fn now_ms() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1e3
}

/// Gives the JS event loop a turn (a macrotask, so queued worker messages are handled).
/// Natively there is nothing to yield to.
#[cfg(target_family = "wasm")]
pub async fn yield_now() {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let scheduled = match global.dyn_ref::<web_sys::WorkerGlobalScope>() {
            Some(worker) => worker.set_timeout_with_callback(&resolve),
            None => match global.dyn_ref::<web_sys::Window>() {
                Some(window) => window.set_timeout_with_callback(&resolve),
                None => Err(wasm_bindgen::JsValue::NULL),
            },
        };
        if scheduled.is_err() {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(not(target_family = "wasm"))]
pub async fn yield_now() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_errors_read_as_plain_words() {
        assert_eq!(adapter_error("No adapter available for WgpuDevice { kind: DefaultDevice }"), "no usable GPU adapter (No adapter available)");
        assert_eq!(adapter_error("Vulkan: loader not found: details"), "no usable GPU adapter (Vulkan)");
        assert_eq!(adapter_error(""), "no usable GPU adapter");
    }
}
