"""The diffusers model adapters: a tiny random UNet2DModel end to end, guidance, and the transformers."""

from __future__ import annotations

import pytest
import torch

from gdf_core import GDF
from gdf_core.interop import DiffusersModel, wrap_diffusers_model

diffusers = pytest.importorskip("diffusers")

from interop_loops import relative_error  # noqa: E402

SD = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}


def tiny_unet(seed: int = 0, **kw):
    torch.manual_seed(seed)
    return diffusers.UNet2DModel(
        sample_size=8, in_channels=2, out_channels=2, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4, **kw,
    ).eval()


def tiny_conditional_unet(seed: int = 0):
    torch.manual_seed(seed)
    return diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=2, out_channels=2, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8, attention_head_dim=4, norm_num_groups=4,
    ).eval()


@pytest.mark.parametrize(
    "cls_name, config",
    [("DDIMScheduler", {**SD, "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1}),
     ("DPMSolverMultistepScheduler", {**SD, "use_karras_sigmas": True}),
     ("EulerDiscreteScheduler", {**SD, "timestep_spacing": "leading", "steps_offset": 1})],
)
@torch.no_grad()
def test_tiny_unet2d_through_the_adapter_samples_as_the_diffusers_loop(cls_name: str, config: dict) -> None:
    unet = tiny_unet()
    noise = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(3))
    sched = getattr(diffusers, cls_name)(**config)
    sched.set_timesteps(8)
    x = noise * sched.init_noise_sigma
    for t in sched.timesteps:
        x = sched.step(unet(sched.scale_model_input(x, t), t).sample, t, x).prev_sample
    gdf = GDF.from_diffusers(getattr(diffusers, cls_name)(**config))
    out = None
    for _, out, _ in gdf.sample(wrap_diffusers_model(unet), {}, noise.shape, timesteps=8, cfg=None, x_init=noise):
        pass
    assert relative_error(out, x) < 1e-4


@torch.no_grad()
def test_conditional_unet_with_guidance_doubles_the_batch_as_diffusers_pipelines_do() -> None:
    unet = tiny_conditional_unet()
    cond = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(1))
    uncond = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(2))
    noise = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(3))
    config = {**SD, "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1}
    sched = diffusers.DDIMScheduler(**config)
    sched.set_timesteps(6)
    x, w = noise.clone(), 4.0
    batch_sizes = []
    for t in sched.timesteps:
        both = unet(torch.cat([x, x]), t, encoder_hidden_states=torch.cat([cond, uncond])).sample
        c, u = both.chunk(2)
        x = sched.step(u + w * (c - u), t, x).prev_sample
    wrapped = wrap_diffusers_model(unet)
    seen = []
    original = wrapped.model.forward

    def spy(*args, **kwargs):
        seen.append(args[0].shape[0])
        return original(*args, **kwargs)

    wrapped.model.forward = spy  # type: ignore[method-assign]
    gdf = GDF.from_diffusers(diffusers.DDIMScheduler(**config))
    out = None
    for _, out, _ in gdf.sample(
        wrapped, {"encoder_hidden_states": cond}, noise.shape, unconditional_inputs={"encoder_hidden_states": uncond},
        timesteps=6, cfg=w, cfg_rho=0.0, x_init=noise,
    ):
        pass
    assert seen == [4] * 6  # the batch of 2, doubled for guidance, once per step
    assert relative_error(out, x) < 1e-4
    del batch_sizes


@torch.no_grad()
def test_sd3_style_transformer_through_the_adapter_samples_as_the_diffusers_loop() -> None:
    torch.manual_seed(0)
    model = diffusers.SD3Transformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, out_channels=4, num_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=8, caption_projection_dim=16, pooled_projection_dim=8, pos_embed_max_size=8,
    ).eval()
    inputs = {"encoder_hidden_states": torch.randn(1, 3, 8), "pooled_projections": torch.randn(1, 8)}
    noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    sched = diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0)
    sched.set_timesteps(5)
    x = noise.clone()
    for t in sched.timesteps:
        x = sched.step(model(x, timestep=t.expand(1), **inputs).sample, t, x).prev_sample
    gdf = GDF.from_diffusers(diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0))
    out = None
    for _, out, _ in gdf.sample(wrap_diffusers_model(model), inputs, noise.shape, timesteps=5, cfg=None, x_init=noise):
        pass
    assert relative_error(out, x) < 1e-4


def test_flux_transformer_takes_sigma_not_sigma_times_1000() -> None:
    class FluxTransformer2DModel(torch.nn.Module):  # the class name is what the adapter reads
        def forward(self, x, timestep, return_dict=True, **kw):
            self.t = timestep
            return (x * 0,)

    model = FluxTransformer2DModel()
    wrapped = DiffusersModel(model, constant_inputs={"img_ids": torch.zeros(4, 3)})
    wrapped(torch.zeros(2, 4, 8), torch.tensor([500.0, 250.0]))
    torch.testing.assert_close(model.t, torch.tensor([0.5, 0.25]))


def test_adapter_refuses_what_is_not_a_model() -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        wrap_diffusers_model(lambda x, t: x)
