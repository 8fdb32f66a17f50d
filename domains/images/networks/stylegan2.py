"""StyleGAN2 generator and residual discriminator (Karras et al. 2020a), as in StyleGAN2-ADA.

Generator: z (and the class, embedded and concatenated) → mapping MLP (learning rate ×0.01)
→ w, broadcast to one style per layer; a learned 4×4 constant → per resolution two 3×3
modulated/demodulated convolutions (the first upsamples ×2, bilinearly — StyleGAN2 uses a
[1,3,3,1] FIR filter, which bilinear ×2 equals inside the image) with per-pixel noise inputs
(learned strength) and a modulated 1×1 toRGB whose outputs are summed across resolutions
(the "skip" generator). Discriminator: fromRGB, residual blocks that halve the resolution
(box-filter downsampling, skip path scaled by 1/√2), minibatch standard deviation, a 3×3 conv
and two dense layers at 4×4; class-conditional by projection (Miyato & Koyama 2018, as the
DCGAN's). Every weight uses the equalised learning rate: stored N(0, 1/lr_mul), scaled at run
time by lr_mul/√fan_in, so Adam sees every layer at the same scale.

The per-pixel noise maps are part of the latent ``sample_latent`` draws (z followed by one
map per convolution), so a sample is a function of its seed alone, whatever the batch.

Sizes: the defaults suit 16×16 digits on a CPU; ``preset`` picks the papers' configurations
for GPUs (see PRESETS).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.adversarial.projection import add_class_projection
from multigen.adversarial.style import StyleGenerator
from multigen.domain import DomainError
from multigen.nn import ConditionEmbedding

from . import build_square

SQRT2 = math.sqrt(2.0)

# The papers' configurations (stylegan2-ada-pytorch train.py cfg_specs; channels at
# resolution r = min(channel_base / r, channel_max)); 'cpu' is this suite's digits size.
PRESETS: dict[str, dict] = {
    # StyleGAN2 config F (FFHQ/LSUN at 256-1024): 30M-parameter generator at 1024
    "stylegan2": {"channel_base": 32768, "channel_max": 512, "map_layers": 8, "w_dim": 512,
                  "latent_dim": 512, "mbstd_group": 4},
    # StyleGAN2-ADA paper256 (FFHQ/AFHQ subsets at 256x256, half the feature maps)
    "paper256": {"channel_base": 16384, "channel_max": 512, "map_layers": 8, "w_dim": 512,
                 "latent_dim": 512, "mbstd_group": 8},
    # StyleGAN2-ADA paper512 / paper1024 (BreCaHAD, MetFaces)
    "paper512": {"channel_base": 32768, "channel_max": 512, "map_layers": 8, "w_dim": 512,
                 "latent_dim": 512, "mbstd_group": 8},
    # StyleGAN2-ADA cifar (32x32): 2 mapping layers
    "cifar": {"channel_base": 32768, "channel_max": 512, "map_layers": 2, "w_dim": 512,
              "latent_dim": 512, "mbstd_group": 32},
    # this suite's CPU size for 16x16 digits
    "cpu": {"channel_base": 1024, "channel_max": 128, "map_layers": 2, "w_dim": 128,
            "latent_dim": 128, "mbstd_group": 4},
}  # fmt: skip
GEN_KEYS = ("channel_base", "channel_max", "map_layers", "w_dim", "latent_dim")
DISC_KEYS = ("channel_base", "channel_max", "mbstd_group")


def _levels(size: int) -> int:
    k = math.log2(size) if size >= 4 else 0
    if k < 2 or k != int(k):
        raise DomainError(f"stylegan2: image size must be a power of two >= 4, got {size}")
    return int(k)


def _channels(res: int, base: int, cmax: int) -> int:
    return max(1, min(base // res, cmax))


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU (0.2) with gain √2, so unit-variance inputs keep unit second moment."""
    return F.leaky_relu(x, 0.2) * SQRT2


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * (x.square().mean(1, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """Dense layer with the equalised learning rate: weight stored as N(0, 1)/lr_mul and
    multiplied by lr_mul/√in_features at run time; bias stored /lr_mul likewise."""

    def __init__(self, inp: int, out: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False):  # fmt: skip
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out, inp) / lr_mul)
        self.bias = nn.Parameter(torch.full((out,), float(bias_init) / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(inp)
        self.lr_mul, self.activation = lr_mul, activation

    def forward(self, x: Tensor) -> Tensor:
        b = None if self.bias is None else self.bias * self.lr_mul
        x = F.linear(x, self.weight * self.weight_gain, b)
        return lrelu(x) if self.activation else x


class EqualConv2d(nn.Module):
    """Convolution with the equalised learning rate (weight × 1/√(in·k·k) at run time);
    ``down`` box-filters ×2 before the convolution."""

    def __init__(self, inp: int, out: int, kernel: int, bias: bool = True,
                 activation: bool = True, down: bool = False):  # fmt: skip
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out, inp, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out)) if bias else None
        self.weight_gain = 1 / math.sqrt(inp * kernel * kernel)
        self.activation, self.down = activation, down

    def forward(self, x: Tensor) -> Tensor:
        if self.down:
            x = F.avg_pool2d(x, 2)
        k = self.weight.shape[-1]
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=k // 2)
        return lrelu(x) if self.activation else x


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True,
                     eps: float = 1e-8, fused: bool = False) -> Tensor:  # fmt: skip
    """StyleGAN2's modulated convolution: the weight [O, I, k, k] scaled per sample by its
    styles [B, I] and, with ``demodulate``, each output channel's weights renormalised to unit
    L2 norm, so unit-variance i.i.d. inputs give unit-variance outputs.

    ``fused``: one grouped convolution over per-sample weights (the paper's form); otherwise
    (same result, several times faster on CPUs) the input is scaled by the styles, convolved
    with the shared weight and the output scaled by the demodulation coefficients."""
    b, cin, h, w = x.shape
    cout, _, kh, kw = weight.shape
    styles = styles.to(weight.dtype)
    if not fused:
        out = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype),
                       padding=kh // 2)  # fmt: skip
        if demodulate:
            w2 = weight.square().sum(dim=(2, 3))  # [O, I]
            d = (styles.square() @ w2.t() + eps).rsqrt()  # [B, O]
            out = out * d[:, :, None, None].to(out.dtype)
        return out
    wts = weight[None] * styles[:, None, :, None, None]  # [B, O, I, k, k]
    if demodulate:
        wts = wts * (wts.square().sum(dim=(2, 3, 4), keepdim=True) + eps).rsqrt()
    out = F.conv2d(
        x.reshape(1, b * cin, h, w),
        wts.reshape(b * cout, cin, kh, kw).to(x.dtype),
        padding=kh // 2,
        groups=b,
    )
    return out.reshape(b, cout, h, w)


class SynthesisLayer(nn.Module):
    """Modulated 3×3 conv (optionally after ×2 upsampling) + noise + bias + leaky ReLU."""

    def __init__(self, inp: int, out: int, w_dim: int, resolution: int, up: bool = False,
                 noise: bool = True):  # fmt: skip
        super().__init__()
        self.affine = EqualLinear(w_dim, inp, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out, inp, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out))
        self.weight_gain = 1 / math.sqrt(inp * 9)
        self.up, self.resolution = up, resolution
        self.noise_strength = nn.Parameter(torch.zeros(())) if noise else None

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None) -> Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight * self.weight_gain, self.affine(w))
        if self.noise_strength is not None and noise is not None:
            x = x + noise.to(x.dtype) * self.noise_strength
        return lrelu(x + self.bias.to(x.dtype)[None, :, None, None])


class ToRGB(nn.Module):
    """Modulated 1×1 convolution to image channels, no demodulation."""

    def __init__(self, inp: int, out: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, inp, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out, inp, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out))
        self.weight_gain = 1 / math.sqrt(inp)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return x + self.bias.to(x.dtype)[None, :, None, None]


class StyleGAN2Generator(StyleGenerator):
    """Mapping network + skip synthesis network; ``num_ws`` = 2·log2(size) - 2 styles."""

    def __init__(
        self,
        out_channels: int,
        size: int,
        latent_dim: int = 128,
        w_dim: int = 128,
        map_layers: int = 2,
        channel_base: int = 1024,
        channel_max: int = 128,
        noise: bool = True,
        w_avg_beta: float = 0.995,
        num_classes: int = 0,
        cond_dim: int = 0,
    ):
        super().__init__()
        levels = _levels(size)
        self.latent_dim, self.w_dim, self.size = latent_dim, w_dim, size
        self.w_avg_beta = w_avg_beta
        # mapping: z (2nd-moment normalised) ++ embedded class (normalised) -> w
        self.cond_emb = ConditionEmbedding(w_dim, num_classes, cond_dim)
        dims = [latent_dim + (w_dim if self.cond_emb.enabled else 0)] + [w_dim] * map_layers
        self.mapping_net = nn.Sequential(
            *[EqualLinear(a, b, lr_mul=0.01, activation=True) for a, b in zip(dims, dims[1:])]
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))
        # synthesis
        ch = {2**k: _channels(2**k, channel_base, channel_max) for k in range(2, levels + 1)}
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.convs = nn.ModuleList([SynthesisLayer(ch[4], ch[4], w_dim, 4, noise=noise)])
        self.torgbs = nn.ModuleList([ToRGB(ch[4], out_channels, w_dim)])
        # style index of each layer: the toRGB of a block shares its index with the next
        # block's first conv (StyleGAN2's num_ws = 2·log2(size) - 2)
        self.conv_ws, self.rgb_ws = [0], [1]
        for k in range(3, levels + 1):
            r = 2**k
            self.convs.append(SynthesisLayer(ch[r // 2], ch[r], w_dim, r, up=True, noise=noise))
            self.convs.append(SynthesisLayer(ch[r], ch[r], w_dim, r, noise=noise))
            i = self.rgb_ws[-1]
            self.conv_ws += [i, i + 1]
            self.rgb_ws.append(i + 2)
            self.torgbs.append(ToRGB(ch[r], out_channels, w_dim))
        self.num_ws = self.rgb_ws[-1] + 1
        self.noise_sizes = [layer.resolution**2 for layer in self.convs] if noise else []
        self.channels = ch

    @property
    def latent_size(self) -> int:
        return self.latent_dim + sum(self.noise_sizes)

    def sample_latent(self, template, generators):
        from multigen.randomness import randn

        return randn(generators, (self.latent_size,)).to(template.x.device)

    def mapping(self, latent: Tensor, cond: Tensor | None = None) -> Tensor:
        z = normalize_2nd_moment(latent[:, : self.latent_dim].float())
        if self.cond_emb.enabled:
            y = self.cond_emb(cond, z.shape[0], z.device).float()
            z = torch.cat([z, normalize_2nd_moment(y)], dim=1)
        w = self.mapping_net(z)
        if self.training:  # the running mean truncation pulls towards
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def _noise_maps(self, latent: Tensor) -> list[Tensor | None]:
        if not self.noise_sizes:
            return [None] * len(self.convs)
        if latent.shape[1] < self.latent_size:  # a plain z: no noise inputs
            return [None] * len(self.convs)
        maps, at = [], self.latent_dim
        for layer, n in zip(self.convs, self.noise_sizes):
            r = layer.resolution
            maps.append(latent[:, at : at + n].reshape(-1, 1, r, r))
            at += n
        return maps

    def synthesis(self, ws: Tensor, latent: Tensor) -> Tensor:
        noise = self._noise_maps(latent)
        x = self.const[None].expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
        img = None
        convs = iter(zip(self.convs, self.conv_ws, noise))
        for level, (torgb, wi) in enumerate(zip(self.torgbs, self.rgb_ws)):
            for _ in range(1 if level == 0 else 2):
                layer, ci, nz = next(convs)
                x = layer(x, ws[:, ci], nz)
            y = torgb(x, ws[:, wi])
            if img is not None:
                img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            img = y if img is None else img + y
        return img


def minibatch_stddev(x: Tensor, group: int, channels: int = 1) -> Tensor:
    """Append the std over groups of ``group`` samples (averaged over features and pixels) as
    ``channels`` extra feature maps; a batch not divisible by the group uses the largest
    divisor of both."""
    b, c, h, w = x.shape
    g = math.gcd(b, group) or 1
    f = channels
    y = x.float().reshape(g, -1, f, c // f, h, w)
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()
    y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y.to(x.dtype)], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """The 4×4 end of the StyleGAN2 and ProGAN discriminators: minibatch std → 3×3 conv →
    dense → logit, plus the class projection."""

    def __init__(self, channels: int, mbstd_group: int, num_classes: int = 0):
        super().__init__()
        self.mbstd_group = mbstd_group
        self.conv = EqualConv2d(channels + 1, channels, 3)
        self.fc = EqualLinear(channels * 16, channels, activation=True)
        self.out = EqualLinear(channels, 1)
        self.embed = None
        if num_classes:
            self.embed = nn.Embedding(num_classes, channels)
            nn.init.normal_(self.embed.weight, std=1 / math.sqrt(channels))

    def forward(self, h: Tensor, cond: Tensor | None) -> Tensor:
        h = self.fc(self.conv(minibatch_stddev(h, self.mbstd_group)).flatten(1))
        return add_class_projection(self.out(h).squeeze(1), h, cond, self.embed)


class ResBlock(nn.Module):
    def __init__(self, inp: int, out: int):
        super().__init__()
        self.conv0 = EqualConv2d(inp, inp, 3)
        self.conv1 = EqualConv2d(inp, out, 3, down=True)
        self.skip = EqualConv2d(inp, out, 1, bias=False, activation=False, down=True)

    def forward(self, x: Tensor) -> Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) / SQRT2


class StyleGAN2Discriminator(nn.Module):
    """fromRGB → residual blocks down to 4×4 → minibatch std → conv → dense → logit
    (+ class projection)."""

    def __init__(
        self,
        in_channels: int,
        size: int,
        channel_base: int = 1024,
        channel_max: int = 128,
        mbstd_group: int = 4,
        projection: bool = True,
        num_classes: int = 0,
    ):
        super().__init__()
        levels = _levels(size)
        ch = {2**k: _channels(2**k, channel_base, channel_max) for k in range(2, levels + 1)}
        self.fromrgb = EqualConv2d(in_channels, ch[size], 1)
        self.blocks = nn.Sequential(*[ResBlock(ch[2**k], ch[2 ** (k - 1)])
                                      for k in range(levels, 2, -1)])  # fmt: skip
        self.head = DiscriminatorEpilogue(ch[4], mbstd_group, num_classes if projection else 0)

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        return self.head(self.blocks(self.fromrgb(x)), cond)


def _preset(name: str, params: dict, keys: tuple[str, ...]) -> dict:
    """``params`` over the named preset's values for ``keys`` (a config's ``preset``)."""
    params = dict(params)
    preset = params.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise DomainError(f"{name}: unknown preset {preset!r}; choose one of: "
                              f"{', '.join(PRESETS)}")  # fmt: skip
        params = {**{k: v for k, v in PRESETS[preset].items() if k in keys}, **params}
    return params


def build_generator(info: dict, **params) -> StyleGAN2Generator:
    params = _preset("stylegan2_generator", params, GEN_KEYS)
    return build_square(StyleGAN2Generator, "stylegan2_generator", info, params)


def build_discriminator(info: dict, **params) -> StyleGAN2Discriminator:
    params = _preset("stylegan2_discriminator", params, DISC_KEYS)
    return build_square(StyleGAN2Discriminator, "stylegan2_discriminator", info, params)
