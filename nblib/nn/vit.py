"""The Vision Transformer, on the book's transformer encoder (Dosovitskiy et al., "An image is
worth 16x16 words: transformers for image recognition at scale", ICLR 2021).

An image becomes a sequence of tokens. Cut ``x`` (B, C, H, W) into ``N = (H/P)(W/P)`` square
patches of ``P x P`` pixels, flatten each into ``C P^2`` numbers, project it to ``D``
dimensions, put a learned [CLS] token in front and add a position embedding (eq. 1-4)::

    z_0 = [x_cls; x_p^1 E; ...; x_p^N E] + E_pos     E: (C P^2, D), E_pos: (1 + N, D)
    z_l = z + MSA(LN(z)), then z + MLP(LN(z))         pre-norm encoder layers, l = 1 .. L
    y   = head(LN(z_L[0]))                            the [CLS] token's final state

* ``PatchEmbedding``: the projection ``E`` in its two equal forms, ``mode="linear"`` (a reshape
  cuts the patches, then ``nn.Linear``) and ``mode="conv"`` (``nn.Conv2d`` whose kernel and stride
  are both ``P``); ``copy_from`` moves the weights from one form to the other.
* ``SinCos2dEmbedding``: fixed 2-D sinusoidal positions: half the channels encode the patch's
  row, half its column, each with the 1-D encoding of :mod:`nblib.nn.positional`.
* A hybrid (section 3.1 of the paper): ``stem``, any convolutional network in front of the
  patch embedding, whose feature map is cut into patches instead of the image (with
  ``patch_size=1`` every feature vector is a token).
* ``ViT``: the model; ``pool="cls"`` classifies from [CLS], ``"mean"`` from the mean patch
  token, ``"patches"`` predicts one label per patch (B, classes, H/P, W/P) (segmentation).
* ``attention_maps``, ``attention_rollout`` (Abnar & Zuidema 2020), ``patch_distances``,
  ``mean_attention_distance`` (the paper's figure 7) and ``position_similarity`` (its figure 7,
  centre): looking inside a trained ViT.

The encoder is :class:`nblib.nn.transformer.TransformerEncoder` of ``TransformerEncoderLayer(
norm_first=True, activation="gelu", batch_first=True)`` with a final :class:`LayerNorm`.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from nblib import validate
from nblib.nn.layernorm import LayerNorm
from nblib.nn.positional import LearnedPositionalEmbedding, sinusoidal_encoding
from nblib.nn.transformer import TransformerEncoder, TransformerEncoderLayer

__all__ = ["PatchEmbedding", "SinCos2dEmbedding", "sincos_2d", "ViT",
           "attention_maps", "attention_rollout", "patch_distances", "mean_attention_distance",
           "position_similarity"]


def _size(name: str, value) -> tuple[int, int]:
    """An int or an (h, w) pair of positive ints, as (h, w)."""
    h, w = (value, value) if isinstance(value, int) else tuple(value)
    return validate.positive_int(f"{name} (height)", h), validate.positive_int(f"{name} (width)", w)


def _check_image(x, channels: int, size: tuple[int, int]) -> None:
    H, W = size
    validate.tensor("x", x, floating=True)
    if x.ndim != 4 or tuple(x.shape[1:]) != (channels, H, W):
        raise ValueError(f"x must be a batch of images of shape (B, {channels}, {H}, {W}), got "
                         f"{tuple(x.shape)}" + ("; a single image? add the batch dimension with "
                                                ".unsqueeze(0)" if x.ndim == 3 else ""))


class PatchEmbedding(nn.Module):
    """(B, C, H, W) -> (B, N, D): cut ``P x P`` patches (row by row) and project each to ``D``.

    ``mode="linear"``: ``patchify`` (a reshape and a permute), then ``nn.Linear(C P^2, D)``.
    ``mode="conv"``: ``nn.Conv2d(C, D, kernel_size=P, stride=P)`` then flatten the grid: each
    output pixel of the convolution is one patch's dot product with each filter. A patch is
    flattened in the order (channel, row, column), the order of a ``Conv2d`` filter, so the two
    weights are the same numbers: ``linear.weight = conv.weight.reshape(D, C * P * P)``.
    """

    def __init__(self, img_size=28, patch_size: int = 7, in_chans: int = 1,
                 embed_dim: int = 64, mode: str = "conv", bias: bool = True) -> None:
        super().__init__()
        self.img_size = _size("img_size", img_size)
        P = self.patch_size = validate.positive_int("patch_size", patch_size)
        H, W = self.img_size
        if H % P or W % P:
            raise ValueError(f"patch_size = {P} must divide the image size {H} x {W}")
        self.in_chans = validate.positive_int("in_chans", in_chans)
        self.embed_dim = validate.positive_int("embed_dim", embed_dim)
        self.grid = (H // P, W // P)
        self.num_patches = self.grid[0] * self.grid[1]
        self.mode = validate.choice("mode", mode, ("conv", "linear"))
        if mode == "conv":
            self.proj = nn.Conv2d(in_chans, embed_dim, P, stride=P, bias=bias)
        else:
            self.proj = nn.Linear(in_chans * P * P, embed_dim, bias=bias)

    def patchify(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, N, C*P*P): patches row by row, each flattened as (C, P, P)."""
        _check_image(x, self.in_chans, self.img_size)
        B, C, H, W = x.shape
        P = self.patch_size
        x = x.reshape(B, C, H // P, P, W // P, P)         # (B, C, gh, P, gw, P)
        x = x.permute(0, 2, 4, 1, 3, 5)                    # (B, gh, gw, C, P, P)
        return x.reshape(B, self.num_patches, C * P * P)   # (B, N, C*P*P)

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "linear":
            return self.proj(self.patchify(x))             # (B, N, D)
        _check_image(x, self.in_chans, self.img_size)
        return self.proj(x).flatten(2).transpose(1, 2)     # (B, D, gh, gw) -> (B, N, D)

    @torch.no_grad()
    def copy_from(self, other: "PatchEmbedding") -> "PatchEmbedding":
        """Take ``other``'s projection (either mode) into this one; returns ``self``."""
        same = ("img_size", "patch_size", "in_chans", "embed_dim")
        if any(getattr(self, a) != getattr(other, a) for a in same):
            raise ValueError("copy_from needs the same " + ", ".join(same) + ": got "
                             + ", ".join(f"{a} {getattr(self, a)} and {getattr(other, a)}"
                                         for a in same))
        self.proj.weight.copy_(other.proj.weight.reshape(self.proj.weight.shape))
        if (self.proj.bias is None) != (other.proj.bias is None):
            raise ValueError("copy_from needs both projections with a bias or both without")
        if self.proj.bias is not None:
            self.proj.bias.copy_(other.proj.bias)
        return self

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, patch_size={self.patch_size}, grid={self.grid}"


def sincos_2d(grid, d_model: int, base: float = 10000.0, *, device=None, dtype=None) -> Tensor:
    """(gh*gw, d_model) fixed 2-D positions: for the patch in row r, column c, the 1-D
    sinusoidal encoding of r (first d_model/2 channels) next to that of c (the others)."""
    gh, gw = _size("grid", grid)
    d_model = validate.positive_int("d_model", d_model)
    if d_model % 4:
        raise ValueError(f"2-D sinusoidal positions need d_model divisible by 4 (sin and cos "
                         f"for rows and for columns), got {d_model}")
    kw = {"device": device, "dtype": dtype}
    rows = sinusoidal_encoding(gh, d_model // 2, base, **kw)           # (gh, D/2)
    cols = sinusoidal_encoding(gw, d_model // 2, base, **kw)           # (gw, D/2)
    pe = torch.cat([rows[:, None].expand(gh, gw, -1),
                    cols[None, :].expand(gh, gw, -1)], dim=-1)          # (gh, gw, D)
    return pe.reshape(gh * gw, d_model)


class SinCos2dEmbedding(nn.Module):
    """Adds fixed 2-D sinusoidal positions to ``x (B, num_prefix + N, D)``; the prefix tokens
    ([CLS]) get zeros. Same ``forward(x, offset=0)`` as the 1-D modules; ``pe`` is a buffer."""

    def __init__(self, grid, d_model: int, num_prefix: int = 1) -> None:
        super().__init__()
        table = sincos_2d(grid, d_model)
        prefix = torch.zeros(validate.integer("num_prefix", num_prefix), d_model)
        self.register_buffer("pe", torch.cat([prefix, table]), persistent=False)  # (T, D)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        T = x.shape[1]
        if x.ndim != 3 or x.shape[-1] != self.pe.shape[1] or offset + T > len(self.pe):
            raise ValueError(f"x must have shape (B, T, {self.pe.shape[1]}) with T <= "
                             f"{len(self.pe) - offset}, got {tuple(x.shape)}")
        return x + self.pe[offset:offset + T].to(x.dtype)                # (B, T, D)


@torch.no_grad()
def _stem_output(stem: nn.Module, in_chans: int, size: tuple[int, int]) -> tuple[int, int, int]:
    """(channels, height, width) of ``stem``'s output for one blank image (in eval mode)."""
    training = stem.training
    device = next((t.device for t in (*stem.parameters(), *stem.buffers())), None)
    try:
        out = stem.eval()(torch.zeros(1, in_chans, *size, device=device))
    finally:
        stem.train(training)
    if out.ndim != 4:
        raise ValueError(f"a stem must map images (B, C, H, W) to feature maps (B, C', H', W'), "
                         f"got {tuple(out.shape)} for an input (1, {in_chans}, {size[0]}, {size[1]})")
    return tuple(out.shape[1:])


class ViT(nn.Module):
    """The Vision Transformer (Dosovitskiy et al. 2020) for ``(B, in_chans, H, W)`` images.

    ``pos_embed``: ``"learned"`` (the paper: one trained vector per token), ``"sincos2d"``
    (fixed, :class:`SinCos2dEmbedding`) or ``"none"``. ``pool``: ``"cls"`` -> (B, num_classes),
    ``"mean"`` (mean of the patch tokens) -> (B, num_classes), ``"patches"`` -> (B, num_classes,
    H/P, W/P), a prediction per patch. ``stem``: a module applied to the image first (a
    hybrid); its output's shape (channels, height, width) is found by one forward pass of a
    blank image, and ``patch_size`` then counts pixels of that feature map. Submodules:
    ``stem`` (``nn.Identity`` by default), ``patch_embed``, ``cls_token`` (1, 1, D),
    ``pos_embed``, ``encoder`` (its final norm is ``encoder.norm``), ``head``.
    """

    def __init__(self, img_size=28, patch_size: int = 7, in_chans: int = 1,
                 num_classes: int = 10, embed_dim: int = 64, depth: int = 4, num_heads: int = 4,
                 mlp_ratio: float = 2.0, dropout: float = 0.0, pos_embed: str = "learned",
                 pool: str = "cls", class_token: bool = True, stem: nn.Module | None = None,
                 patch_mode: str = "conv", layer_norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.img_size, self.in_chans = _size("img_size", img_size), in_chans
        self.pool = validate.choice("pool", pool, ("cls", "mean", "patches"))
        if pool == "cls" and not class_token:
            raise ValueError("pool='cls' reads the [CLS] token: keep class_token=True")
        self.stem = nn.Identity() if stem is None else stem
        chans, fmap = in_chans, self.img_size
        if stem is not None:
            chans, *fmap = _stem_output(stem, in_chans, self.img_size)
        self.patch_embed = PatchEmbedding(fmap, patch_size, chans, embed_dim, patch_mode)
        self.grid = self.patch_embed.grid
        self.num_prefix = int(bool(class_token))
        T = self.num_prefix + self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * 0.02) if class_token else None
        kind = validate.choice("pos_embed", pos_embed, ("learned", "sincos2d", "none"))
        if kind == "learned":                      # the paper: one trained vector per token
            self.pos_embed = LearnedPositionalEmbedding(T, embed_dim)
        elif kind == "sincos2d":                   # fixed: the grid is built in
            self.pos_embed = SinCos2dEmbedding(self.grid, embed_dim, self.num_prefix)
        else:                                      # a bag of patches
            self.pos_embed = None
        layer = TransformerEncoderLayer(embed_dim, num_heads, int(mlp_ratio * embed_dim),
                                        dropout, activation="gelu", layer_norm_eps=layer_norm_eps,
                                        batch_first=True, norm_first=True)
        self.encoder = TransformerEncoder(layer, depth, norm=LayerNorm(embed_dim,
                                                                       eps=layer_norm_eps))
        self.head = nn.Linear(embed_dim, validate.positive_int("num_classes", num_classes))

    def tokens(self, x: Tensor) -> Tensor:
        """The encoder's input: (B, C, H, W) -> (B, T, D), T = [CLS] + N patches."""
        _check_image(x, self.in_chans, self.img_size)
        z = self.patch_embed(self.stem(x))                            # (B, N, D)
        if self.cls_token is not None:
            cls = self.cls_token.expand(z.shape[0], -1, -1)           # (B, 1, D)
            z = torch.cat([cls, z], dim=1)                            # (B, 1 + N, D)
        return z if self.pos_embed is None else self.pos_embed(z)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, T, D): every token's final state, after the final norm."""
        return self.encoder(self.tokens(x))

    def forward(self, x: Tensor) -> Tensor:
        z = self.forward_features(x)                                  # (B, T, D)
        if self.pool == "cls":
            return self.head(z[:, 0])                                 # (B, classes)
        patches = z[:, self.num_prefix:]                              # (B, N, D)
        if self.pool == "mean":
            return self.head(patches.mean(dim=1))                     # (B, classes)
        B, (gh, gw) = z.shape[0], self.grid
        return self.head(patches).transpose(1, 2).reshape(B, -1, gh, gw)  # (B, classes, gh, gw)


@torch.no_grad()
def attention_maps(model: ViT, x: Tensor) -> Tensor:
    """Every layer's attention weights on the images ``x``: (B, L, nh, T, T), in eval mode.

    Sets ``keep_attention`` on the encoder's layers for one forward pass, then restores them.
    Row ``i`` of ``[b, l, h]`` is how query token ``i`` of layer ``l``, head ``h``, spreads its
    weight over the keys (token 0 is [CLS] when the model has one).
    """
    layers = model.encoder.layers
    kept, training = [layer.keep_attention for layer in layers], model.training
    model.eval()
    try:
        for layer in layers:
            layer.keep_attention = True
        model(x)
        return torch.stack([layer.attention_weights for layer in layers], dim=1)
    finally:
        for layer, keep in zip(layers, kept):
            layer.keep_attention = keep
            layer.attention_weights = None
        model.train(training)


def _check_attention(attentions: Tensor) -> Tensor:
    validate.tensor("attentions", attentions, floating=True)
    if attentions.ndim not in (4, 5) or attentions.shape[-1] != attentions.shape[-2]:
        raise ValueError(f"attentions must have shape (B, L, nh, T, T) or (L, nh, T, T) (from "
                         f"attention_maps), got {tuple(attentions.shape)}")
    return attentions if attentions.ndim == 5 else attentions[None]


def attention_rollout(attentions: Tensor, residual: float = 0.5) -> Tensor:
    """Attention rollout (Abnar & Zuidema 2020, "Quantifying attention flow in transformers").

    Average each layer's weights over the heads, ``A_l`` (T, T); account for the residual
    connection with ``R_l = (1 - residual) A_l + residual I`` (rows re-normalised to sum to 1);
    multiply through the layers, ``rollout = R_L ... R_2 R_1``. Row ``i`` says how much each
    input token contributes to token ``i`` at the top; row 0 is [CLS]'s view of the patches.
    ``attentions`` (B, L, nh, T, T) -> (B, T, T); (L, nh, T, T) -> (T, T).
    """
    batched = attentions.ndim == 5
    a = _check_attention(attentions).mean(dim=2)                     # (B, L, T, T)
    validate.number("residual", residual, ge=0, le=1)
    T = a.shape[-1]
    eye = torch.eye(T, dtype=a.dtype, device=a.device)
    r = (1 - residual) * a + residual * eye                          # (B, L, T, T)
    r = r / r.sum(dim=-1, keepdim=True)
    out = r[:, 0]
    for layer in range(1, r.shape[1]):
        out = r[:, layer] @ out                                      # (B, T, T)
    return out if batched else out[0]


def patch_distances(grid, patch_size: int = 1, *, device=None) -> Tensor:
    """(N, N) Euclidean distances between the centres of the patches of a ``grid`` (rows,
    columns, patches numbered row by row), in pixels of patches ``patch_size`` wide."""
    gh, gw = _size("grid", grid)
    rows, cols = torch.meshgrid(torch.arange(gh, device=device), torch.arange(gw, device=device),
                                indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], 1).double()  # (N, 2)
    return torch.cdist(centres, centres) * validate.positive_int("patch_size", patch_size)


def mean_attention_distance(attentions: Tensor, grid, patch_size: int,
                            num_prefix: int = 1) -> Tensor:
    """How far each layer and head looks, in pixels (Dosovitskiy et al. 2020, figure 7 right).

    For every query patch, the distance to each key patch weighted by the attention it pays
    that patch, summed over the keys, then averaged over the query patches and the images.
    Prefix tokens ([CLS]) are left out as queries and as keys, and each query's weights on the
    patch keys are re-normalised to sum to 1, so the distance is that of the attention paid to
    the image: uniform attention over all tokens gives ``patch_distances(grid).mean()``,
    whatever share [CLS] receives. (B, L, nh, T, T) -> (L, nh).
    """
    a = _check_attention(attentions)[..., num_prefix:, num_prefix:]  # (B, L, nh, N, N)
    d = patch_distances(grid, patch_size, device=a.device).to(a.dtype)
    if d.shape[-1] != a.shape[-1]:
        raise ValueError(f"a grid of {tuple(grid)} has {d.shape[-1]} patches, the attentions "
                         f"have {a.shape[-1]} tokens after {num_prefix} prefix token(s)")
    a = a / a.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)  # over the patches
    return (a * d).sum(dim=-1).mean(dim=(0, -1))                     # (L, nh)


def position_similarity(table: Tensor, grid, num_prefix: int = 0) -> Tensor:
    """Cosine similarity between the position embedding of each patch and every other one,
    arranged as the ViT paper draws it: (gh, gw, gh, gw), ``[r, c]`` the map of patch (r, c).
    ``table``: (num_prefix + N, D) (the prefix rows, e.g. [CLS]'s, are dropped)."""
    gh, gw = _size("grid", grid)
    validate.tensor("table", table, floating=True, ndim=2)
    pos = table[num_prefix:]
    if pos.shape[0] != gh * gw:
        raise ValueError(f"table has {pos.shape[0]} rows after {num_prefix} prefix row(s); a "
                         f"grid of {gh} x {gw} needs {gh * gw}")
    unit = pos / pos.norm(dim=1, keepdim=True).clamp_min(1e-12)    # (N, D)
    return (unit @ unit.T).reshape(gh, gw, gh, gw)
