//! The compute device, chosen at run time: burn's `flex` CPU backend or wgpu (WebGPU in the
//! browser, Vulkan/Metal/DX12 natively, Mesa lavapipe on a machine without a GPU).

use std::sync::OnceLock;

use burn::tensor::Device;
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Cpu,
    Gpu,
}

impl Backend {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cpu" => Ok(Self::Cpu),
            "gpu" | "webgpu" | "wgpu" => Ok(Self::Gpu),
            other => Err(Error::input(format!("unknown backend \"{other}\" (use cpu or gpu)"))),
        }
    }
}

// The wgpu runtime can be initialised once per process; later engines reuse its device.
static GPU: OnceLock<Device> = OnceLock::new();

pub async fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        Backend::Gpu => {
            if let Some(d) = GPU.get() {
                return Ok(d.clone());
            }
            let d = Device::wgpu_options()
                .init_async()
                .await
                .map_err(|e| {
                    // wgpu's text lists every API it tried; the first clause says enough.
                    let detail = e.to_string();
                    let short = detail.split(':').next().unwrap_or(&detail).trim().to_string();
                    Error::backend(format!("no usable GPU adapter ({short})"))
                })?;
            Ok(GPU.get_or_init(|| d).clone())
        }
    }
}

/// Gives the JS event loop a turn (a macrotask, so queued worker messages are handled).
/// Natively there is nothing to yield to.
#[cfg(target_family = "wasm")]
pub async fn yield_now() {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(f) = js_sys::Reflect::get(&global, &"setTimeout".into()).and_then(|f| f.dyn_into::<js_sys::Function>()) {
            let _ = f.call2(&global, &resolve, &0.into());
        } else {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(not(target_family = "wasm"))]
pub async fn yield_now() {}
