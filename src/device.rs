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
