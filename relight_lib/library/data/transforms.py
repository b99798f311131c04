"""Input maps and paired augmentation: inverse depth, normal maps, LTNet inputs, flips.

What is here (``spec/papers.md`` sections in brackets):

* :func:`normalize_depth`, :func:`inverse_depth`: LTNet's depth channels (§3.2). The paper
  normalises depth D to [0, 1] and uses V = 1 - D as the inverse-depth channel.
* :func:`normal_map`: LTNet's normal map, two recipes (§0 item 1, §3.2):
  ``'paper'`` (Sobel on the grey image and on the depth, z = 0.1, the two maps averaged) and
  ``'code'`` (the released test code: depth-only central differences on raw depth x 10000, z = 1,
  zero borders).
* :func:`make_inputs`: the LTNet input tensor, channels in the paper's order
  RGB(3), depth(1), inverse depth(1), normal(3) (§3.2).
* :func:`random_flip_rotate`: LTNet's paired augmentation (random flips and 90-degree
  rotations/transposes, §3.6), the same geometric transform for input, target and depth.
* :func:`hflip_pair`: MBNet's extra training pairs, horizontally flipped (§4.6).

Conventions (ARCHITECTURE.md section 3): float32 tensors; images RGB in [0, 1] with shape
(B, 3, H, W); depth (B, 1, H, W) in [0, 1]. Functions also take one unbatched sample
((3, H, W) / (1, H, W)) where their docstring says so, and then return an unbatched result.

Suite decisions where the paper is silent (papers.md §3.2 marks them ``[?]``), used by
``normal_map(recipe='paper')``:

* grey image = ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` (:data:`GREY_WEIGHTS`), the
  weights of OpenCV's ``cvtColor(..., COLOR_*2GRAY)`` that the LTNet code base uses elsewhere;
* Sobel kernel 3 x 3, unscaled (OpenCV's ``ksize=3`` kernels, :data:`SOBEL_X`), applied to values
  in [0, 1], so a ramp rising by s per pixel gives a response 8 s; borders padded by replicating
  the edge pixel (the map keeps its size and a ramp keeps the sign of its slope at the border);
* axes and signs: x = image-right (columns), y = image-down (rows), as image coordinates; each map
  is ``(-g_x, -g_y, z)``, the normal of the height field z = f(x, y) (the same sign the official
  code uses for depth), so a value rising to the right tilts the normal to the left (n_x < 0);
* each of the two maps is scaled to unit length *before* averaging (the paper calls each one a
  normal map), and the average is scaled to unit length again. Both maps have z > 0, so the
  average is never the zero vector.
* mapping to image range: ``n * 0.5 + 0.5``, as the official code does.

The ``'code'`` recipe keeps the code's own axis order: channel 0 is the *row* (vertical)
derivative and channel 1 the *column* derivative, the reverse of the paper recipe's (x, y), because
the released checkpoints were trained on that layout.

Example:
    >>> rgb = torch.rand(2, 3, 8, 8)
    >>> depth = torch.rand(2, 1, 8, 8)
    >>> x = make_inputs({"input": rgb, "depth": depth})
    >>> tuple(x.shape)  # RGB, depth, inverse depth, normal
    (2, 8, 8, 8)
    >>> normal_map(torch.zeros(3, 4, 4), torch.zeros(1, 4, 4))[:, 0, 0]  # flat -> (0, 0, 1)
    tensor([0.5000, 0.5000, 1.0000])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F

__all__ = [
    "CODE_DEPTH_SCALE",
    "GREY_WEIGHTS",
    "INPUT_CHANNELS",
    "LTNET_INPUTS",
    "NORMAL_RECIPES",
    "PAPER_NORMAL_Z",
    "SOBEL_X",
    "SOBEL_Y",
    "apply_dihedral",
    "hflip_pair",
    "input_channels",
    "inverse_depth",
    "make_inputs",
    "normal_map",
    "normalize_depth",
    "random_flip_rotate",
    "rgb_to_grey",
    "sobel",
]

NormalRecipe = Literal["paper", "code"]

#: The two normal-map recipes of :func:`normal_map`.
NORMAL_RECIPES: tuple[str, ...] = ("paper", "code")

#: LTNet's inputs in the paper's concatenation order (papers.md §3.2).
LTNET_INPUTS: tuple[str, ...] = ("rgb", "depth", "inverse_depth", "normal")

#: Channels contributed by each input name of :func:`make_inputs`.
INPUT_CHANNELS: dict[str, int] = {"rgb": 3, "depth": 1, "inverse_depth": 1, "normal": 3}

#: z component of each normal before unit scaling in the paper recipe (papers.md §3.2).
PAPER_NORMAL_Z = 0.1

#: Factor the official code multiplies the raw depth with before differencing (papers.md §3.2).
CODE_DEPTH_SCALE = 10000.0

#: Grey weights for R, G, B (BT.601, as OpenCV's RGB/BGR -> GRAY). Suite decision, see above.
GREY_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)

#: 3 x 3 Sobel kernel for d/dx (x = columns, to the right), unscaled as OpenCV's ksize=3.
SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
#: 3 x 3 Sobel kernel for d/dy (y = rows, downwards).
SOBEL_Y = SOBEL_X.t().contiguous()


# ---- shape helpers -----------------------------------------------------------------------------

def _check_tensor(x: Any, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (NumPy arrays: torch.from_numpy), "
                        f"got {type(x).__name__}")


def as_batched(x: torch.Tensor, name: str, channels: int | None = None
               ) -> tuple[torch.Tensor, bool]:
    """(B, C, H, W) or (C, H, W) -> ((B, C, H, W), was_unbatched), checking C if given."""
    _check_tensor(x, name)
    if x.dim() == 3:
        x, unbatched = x.unsqueeze(0), True
    elif x.dim() == 4:
        unbatched = False
    else:
        raise ValueError(f"{name} must be (B, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        plural = "s" if channels != 1 else ""
        raise ValueError(f"{name} must have {channels} channel{plural}, got shape {tuple(x.shape)}")
    return x, unbatched


def _unbatch(x: torch.Tensor, unbatched: bool) -> torch.Tensor:
    return x.squeeze(0) if unbatched else x


def _float(x: torch.Tensor) -> torch.Tensor:
    # integer or bool inputs would make the arithmetic below wrong, not just imprecise
    return x if x.is_floating_point() else x.float()


# ---- depth --------------------------------------------------------------------------------------

# Not kornia.enhance.normalize_min_max: kornia adds 1e-6 to the denominator (an error of 1e-6)
# and needs a batch; a constant map must map to 0 here.
def normalize_depth(depth: torch.Tensor) -> torch.Tensor:
    """Per-image min-max normalisation of depth to [0, 1].

    Each sample is scaled on its own, over all its channels and pixels:
    ``(d - min) / (max - min)``. This is what the official LTNet test code does to
    ``normalized_depth`` before using it as the depth channel (papers.md §3.2, step 2); the paper
    only says depth is "normalised to [0, 1]". VIDIT and SynVIDIT already store depth in [0, 1],
    so the stretch is optional for them.

    A constant depth map (max == min) has no range to stretch and maps to zeros (the official
    code would divide by zero there).

    Args:
        depth: (B, 1, H, W) or unbatched (1, H, W) float depth, any range.

    Returns:
        Same shape, float, each sample spanning exactly [0, 1] (or all zeros if constant).

    Example:
        >>> normalize_depth(torch.tensor([[[2.0, 4.0], [3.0, 6.0]]]))
        tensor([[[0.0000, 0.5000],
                 [0.2500, 1.0000]]])
    """
    _check_tensor(depth, "depth")
    d, unbatched = as_batched(_float(depth), "depth")
    lo = d.amin(dim=(1, 2, 3), keepdim=True)
    span = d.amax(dim=(1, 2, 3), keepdim=True) - lo
    # where the span is 0, divide by 1 instead: (d - lo) is 0 there anyway
    out = (d - lo) / torch.where(span > 0, span, torch.ones_like(span))
    return _unbatch(out, unbatched)


def inverse_depth(depth: torch.Tensor) -> torch.Tensor:
    """LTNet's inverse-depth channel ``V = 1 - D`` (papers.md §3.2).

    The input is assumed to be normalised to [0, 1] already (VIDIT / SynVIDIT depth is; use
    :func:`normalize_depth` first for anything else). No normalisation happens here, so that the
    function is exactly the paper's formula.

    Args:
        depth: (B, 1, H, W) or (1, H, W) depth in [0, 1] (any shape works; it is elementwise).

    Returns:
        ``1 - depth``, same shape, in [0, 1] for inputs in [0, 1].

    Example:
        >>> inverse_depth(torch.tensor([0.0, 0.25, 1.0]))
        tensor([1.0000, 0.7500, 0.0000])
    """
    _check_tensor(depth, "depth")
    return 1.0 - _float(depth)


# ---- grey, Sobel, normals ---------------------------------------------------------------------

def rgb_to_grey(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 grey ``0.299 R + 0.587 G + 0.114 B`` (:data:`GREY_WEIGHTS`).

    Args:
        rgb: (B, 3, H, W) or (3, H, W) RGB, any range (the map is linear).

    Returns:
        (B, 1, H, W) or (1, H, W) grey, same dtype.

    Example:
        >>> rgb_to_grey(torch.ones(3, 1, 2))
        tensor([[[1., 1.]]])
    """
    from kornia.color import rgb_to_grayscale

    _check_tensor(rgb, "rgb")
    x, unbatched = as_batched(_float(rgb), "rgb", 3)
    # kornia's float path is this weighted sum (its uint8 path rounds; we convert to float first)
    w = torch.tensor(GREY_WEIGHTS, dtype=x.dtype, device=x.device)
    return _unbatch(rgb_to_grayscale(x, rgb_weights=w), unbatched)


def sobel(x: torch.Tensor) -> torch.Tensor:
    """3 x 3 Sobel gradients (g_x, g_y) of every channel, edges replicated.

    ``g_x`` uses :data:`SOBEL_X` (positive where values rise to the right), ``g_y`` uses
    :data:`SOBEL_Y` (positive where values rise downwards). The kernels are unscaled, so a linear
    ramp with slope s per pixel gives 8 s in the interior and 4 s on the border rows/columns the
    ramp runs into (replicate padding halves the central difference there).

    Args:
        x: (B, C, H, W) float.

    Returns:
        (B, 2C, H, W): for each input channel c, channels 2c (g_x) and 2c + 1 (g_y).

    Example:
        >>> ramp = torch.arange(4.0).expand(1, 1, 3, 4)  # rises by 1 per column
        >>> sobel(ramp)[0, 0]
        tensor([[4., 8., 8., 4.],
                [4., 8., 8., 4.],
                [4., 8., 8., 4.]])
    """
    _check_tensor(x, "x")
    if x.dim() != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    from kornia.filters import spatial_gradient

    # kornia's unnormalised Sobel is exactly SOBEL_X / SOBEL_Y with replicated edges, per
    # channel; (B, C, 2, H, W) -> (B, 2C, H, W) keeps (g_x, g_y) next to each other
    return spatial_gradient(_float(x), mode="sobel", order=1, normalized=False).flatten(1, 2)


def _unit(v: torch.Tensor) -> torch.Tensor:
    """Scale (B, 3, H, W) vectors to unit length along dim 1 (callers guarantee z > 0)."""
    return v / torch.linalg.vector_norm(v, dim=1, keepdim=True)


def _sobel_normal(x: torch.Tensor, z: float) -> torch.Tensor:
    """Unit normals (-g_x, -g_y, z) of a one-channel map (B, 1, H, W) -> (B, 3, H, W)."""
    g = sobel(x)
    return _unit(torch.cat([-g, torch.full_like(x, z)], dim=1))


def _paper_normals(rgb: torch.Tensor, depth: torch.Tensor, z: float) -> torch.Tensor:
    n = _sobel_normal(rgb_to_grey(rgb), z) + _sobel_normal(depth, z)
    # the average of the two unit maps; its length is < 1 wherever they disagree, hence _unit
    return _unit(0.5 * n)


def _code_normals(depth: torch.Tensor) -> torch.Tensor:
    b, _, h, w = depth.shape
    out = depth.new_zeros(b, 3, h, w)  # the code leaves border pixels at 0, not at 0.5
    if h < 3 or w < 3:
        return out  # no interior pixel: the code's loops do not run
    d = depth[:, 0] * CODE_DEPTH_SCALE
    g_r = (d[:, 2:, 1:-1] - d[:, :-2, 1:-1]) / 2.0  # along rows (vertical), code's first axis
    g_c = (d[:, 1:-1, 2:] - d[:, 1:-1, :-2]) / 2.0  # along columns (horizontal)
    v = _unit(torch.stack([-g_r, -g_c, torch.ones_like(g_r)], dim=1))
    out[:, :, 1:-1, 1:-1] = v * 0.5 + 0.5
    return out


def normal_map(
    rgb: torch.Tensor | None,
    depth: torch.Tensor,
    recipe: NormalRecipe = "paper",
) -> torch.Tensor:
    """LTNet's normal map, mapped to image range (papers.md §0 item 1, §3.2).

    ``recipe='paper'`` (default; LTNet §3.1 of the paper): grey image -> 3 x 3 Sobel -> unit
    normals ``(-g_x, -g_y, 0.1)``; the same on the depth; the two maps averaged and scaled to unit
    length; then ``n * 0.5 + 0.5``. Channels are (x = right, y = down, z). The suite decisions
    (grey weights, kernel, signs, per-map normalisation, borders) are listed in the module
    docstring. Since z = 0.1 is small against the Sobel responses of real edges, the normal leans
    strongly at edges; on a flat image *and* flat depth it is ``(0, 0, 0.1) / 0.1 = (0, 0, 1)``,
    i.e. ``(0.5, 0.5, 1.0)`` after mapping.

    ``recipe='code'`` (the released test code, ``depth2normal``): raw depth x 10000 (no min-max
    stretch, no image term); for interior pixels the central differences
    ``g_r = (d[r+1, c] - d[r-1, c]) / 2`` and ``g_c = (d[r, c+1] - d[r, c-1]) / 2``; the vector
    ``(-g_r, -g_c, 1)`` scaled to unit length and mapped with ``n * 0.5 + 0.5``; the one-pixel
    border stays 0 in all three channels. Channel order follows the code: (rows, columns, z).
    ``rgb`` is ignored (may be None). The code then truncates x 255 to uint8; that quantisation is
    not applied here (``torch.floor(n * 255) / 255`` reproduces it).

    Args:
        rgb: (B, 3, H, W) or (3, H, W) RGB in [0, 1]; required for 'paper', unused for 'code'.
        depth: (B, 1, H, W) or (1, H, W). 'paper': depth normalised to [0, 1] as the paper says
            (VIDIT / SynVIDIT depth is; see :func:`normalize_depth`). 'code': the raw stored
            depth, as the official code uses it.
        recipe: ``'paper'`` (default) or ``'code'``.

    Returns:
        (B, 3, H, W) (or (3, H, W) for unbatched input) float in [0, 1]; ``(n - 0.5) * 2`` has
        unit length at every pixel (except the code recipe's zero border).

    Raises:
        ValueError: unknown recipe, wrong shapes, or rgb missing for the paper recipe.

    Example:
        >>> ramp = torch.linspace(0, 1, 5).expand(1, 1, 5, 5)  # depth rising to the right
        >>> n = normal_map(torch.zeros(1, 3, 5, 5), ramp)
        >>> bool((n[:, 0] < 0.5).all()), bool(torch.allclose(n[:, 1], torch.tensor(0.5)))
        (True, True)
    """
    if recipe not in NORMAL_RECIPES:
        raise ValueError(f"unknown normal-map recipe {recipe!r}; expected one of {NORMAL_RECIPES}")
    d, unbatched = as_batched(depth, "depth", 1)
    d = _float(d)
    if recipe == "code":
        return _unbatch(_code_normals(d).clamp_(0.0, 1.0), unbatched)
    if rgb is None:
        raise ValueError("normal_map(recipe='paper') needs the RGB image (it uses its Sobel "
                         "gradients); only recipe='code' works from depth alone")
    x, rgb_unbatched = as_batched(rgb, "rgb", 3)
    if rgb_unbatched != unbatched or x.shape[0] != d.shape[0] or x.shape[-2:] != d.shape[-2:]:
        raise ValueError(f"rgb {tuple(rgb.shape)} and depth {tuple(depth.shape)} must have the "
                         "same batch size and height/width")
    n = _paper_normals(_float(x).to(d.dtype), d, PAPER_NORMAL_Z)
    # rounding can put a unit component a hair outside [-1, 1]
    return _unbatch((n * 0.5 + 0.5).clamp_(0.0, 1.0), unbatched)


# ---- LTNet inputs -------------------------------------------------------------------------------

def input_channels(inputs: Sequence[str] = LTNET_INPUTS) -> int:
    """Number of channels :func:`make_inputs` produces for ``inputs`` (8 for LTNet's default).

    Example:
        >>> input_channels(), input_channels(("rgb", "depth"))
        (8, 4)
    """
    return sum(INPUT_CHANNELS[name] for name in _check_inputs(inputs))


def _check_inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    if isinstance(inputs, str):
        raise TypeError(f"inputs must be a sequence of names, not the string {inputs!r}")
    names = tuple(inputs)
    unknown = [n for n in names if n not in INPUT_CHANNELS]
    if unknown:
        raise ValueError(f"unknown input(s) {unknown}; expected names from {LTNET_INPUTS}")
    if len(set(names)) != len(names):
        raise ValueError(f"inputs {names} name a map twice")
    if "rgb" not in names:
        raise ValueError(f"inputs {names} must include 'rgb' (LTNet relights the RGB image)")
    return names


def make_inputs(
    batch: Mapping[str, Any],
    inputs: Sequence[str] = LTNET_INPUTS,
    normal_recipe: NormalRecipe = "paper",
    *,
    normalize: bool = False,
    image_key: str = "input",
    depth_key: str = "depth",
) -> torch.Tensor:
    """LTNet's network input: the requested maps concatenated in the paper's order.

    Channels follow LTNet's order (papers.md §3.2) whatever order ``inputs`` lists them in:
    RGB (3), depth (1), inverse depth (1), normal (3); the full set is 8 channels. Maps:

    * ``rgb``: ``batch[image_key]`` as given;
    * ``depth``: ``batch[depth_key]``, min-max stretched per image if ``normalize`` (the official
      code's step; the paper only says "normalised to [0, 1]", which VIDIT/SynVIDIT depth already
      is, so the default leaves it as stored, like :class:`relight_lib.library.models.ltnet.LTNet`);
    * ``inverse_depth``: :func:`inverse_depth` of that depth;
    * ``normal``: :func:`normal_map` with ``normal_recipe``; the paper recipe uses the same depth
      as the depth channel, the code recipe always the raw stored depth (as the official code).

    No value normalisation (the code's ``(x*255 - 127.5)/255``) happens here: that belongs to the
    model. Unbatched samples ((3, H, W) image, (1, H, W) depth) give a (C, H, W) result.

    Args:
        batch: mapping with ``image_key`` (B, 3, H, W) RGB in [0, 1] and, when any depth-derived
            map is requested, ``depth_key`` (B, 1, H, W) depth.
        inputs: names from :data:`LTNET_INPUTS`; must include ``'rgb'``.
        normal_recipe: ``'paper'`` (default) or ``'code'``.
        normalize: per-image min-max stretch of the depth before use (default False).
        image_key: key of the RGB image (default ``'input'``).
        depth_key: key of the depth (default ``'depth'``).

    Returns:
        (B, C, H, W) float tensor, C = :func:`input_channels` of ``inputs``.

    Raises:
        ValueError: an unknown or repeated name, no ``'rgb'``, or a missing image / depth (the
            message names the missing key and the maps that need it).

    Example:
        >>> b = {"input": torch.rand(1, 3, 4, 4), "depth": torch.full((1, 1, 4, 4), 0.25)}
        >>> x = make_inputs(b, inputs=("normal", "rgb", "inverse_depth"))
        >>> tuple(x.shape), float(x[0, 3, 0, 0])  # RGB, inverse depth, normal
        ((1, 7, 4, 4), 0.75)
    """
    names = set(_check_inputs(inputs))
    if normal_recipe not in NORMAL_RECIPES:
        raise ValueError(f"unknown normal-map recipe {normal_recipe!r}; "
                         f"expected one of {NORMAL_RECIPES}")
    if image_key not in batch or batch[image_key] is None:
        raise ValueError(f"batch has no image under key {image_key!r} (keys: {sorted(batch)})")
    rgb, unbatched = as_batched(batch[image_key], f"batch[{image_key!r}]", 3)
    rgb = _float(rgb)
    needs_depth = sorted(names & {"depth", "inverse_depth", "normal"})
    maps = [rgb]
    if needs_depth:
        raw = batch.get(depth_key)
        if raw is None:
            raise ValueError(f"inputs {needs_depth} need the depth map under key {depth_key!r}, "
                             f"which the batch does not have (keys: {sorted(batch)})")
        raw, depth_unbatched = as_batched(raw, f"batch[{depth_key!r}]", 1)
        if depth_unbatched != unbatched or raw.shape[0] != rgb.shape[0] \
                or raw.shape[-2:] != rgb.shape[-2:]:
            raise ValueError(f"image {tuple(batch[image_key].shape)} and depth "
                             f"{tuple(batch[depth_key].shape)} do not match in batch or size")
        raw = _float(raw).to(device=rgb.device, dtype=rgb.dtype)
        depth = normalize_depth(raw) if normalize else raw
        if "depth" in names:
            maps.append(depth)
        if "inverse_depth" in names:
            maps.append(inverse_depth(depth))
        if "normal" in names:
            src = raw if normal_recipe == "code" else depth
            maps.append(normal_map(rgb, src, recipe=normal_recipe))
    return _unbatch(torch.cat(maps, dim=1), unbatched)


# ---- paired augmentation -----------------------------------------------------------------------

def apply_dihedral(
    x: torch.Tensor, hflip: bool = False, vflip: bool = False, transpose: bool = False
) -> torch.Tensor:
    """One of the 8 flips/rotations of the square, applied as hflip, then vflip, then transpose.

    The three switches generate all 8 symmetries: e.g. a 90-degree clockwise rotation is
    ``vflip`` then ``transpose``, 180 degrees is ``hflip`` and ``vflip``.

    Args:
        x: (..., H, W) tensor; ``transpose`` swaps the last two dimensions (H, W -> W, H).
        hflip: mirror left-right (last dim).
        vflip: mirror top-bottom (second-to-last dim).
        transpose: swap rows and columns.

    Returns:
        The transformed tensor (a new tensor; ``x`` is untouched).

    Example:
        >>> x = torch.tensor([[1, 2], [3, 4]])
        >>> apply_dihedral(x, vflip=True, transpose=True)  # 90 degrees clockwise
        tensor([[3, 1],
                [4, 2]])
    """
    if hflip:
        x = x.flip(-1)
    if vflip:
        x = x.flip(-2)
    if transpose:
        x = x.transpose(-1, -2)
    # flip() already copies; a bare transpose is a view, and no switch at all must not alias x
    return x.contiguous() if (hflip or vflip) else x.clone(memory_format=torch.contiguous_format)


# Not kornia.augmentation: its random flips and 90-degree rotations draw from the global RNG (exact
# resume needs a per-step generator) and rotate by bilinear warping with zero fill.
def random_flip_rotate(
    batch: Mapping[str, Any],
    generator: torch.Generator,
    keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """LTNet's paired augmentation: random flips and 90-degree rotations (papers.md §3.6).

    For every sample of the batch three fair coins are drawn from ``generator``: horizontal flip,
    vertical flip, transpose (the official code base's LR-flip, UD-flip and transpose transforms);
    together they pick one of the 8 flips/rotations of the square uniformly. The *same* transform
    is applied to every selected tensor of that sample (input, target, depth, ...), so pairs stay
    pixel-aligned; different samples get independent transforms. This is the augmentation the
    paper describes ("random rotation and flipping").

    Note that a flip or rotation also changes where the light comes from *relative to the image*
    (an image lit from the right becomes lit from the left, or from above): the target is
    transformed with the input, so each pair stays consistent (both lit from the same, new side),
    but direction labels in the batch (e.g. a light angle) are *not* updated. For Track 1
    (one fixed input -> target direction pair) this means the network also sees other
    input/target direction pairs during training, as LTNet did.

    Args:
        batch: dict of the batch. Non-tensor entries (e.g. ``key`` strings) and tensors that are
            not 4-D pass through unchanged.
        generator: seeded ``torch.Generator`` (the training engine seeds one per step); 3 x B
            values are drawn from it per call, on its device.
        keys: which entries to transform; default: every 4-D tensor. All of them must share
            the batch size and the height/width.

    Returns:
        A new dict (``batch`` is not modified) with the transformed tensors. The transpose is
        applied only when the images are square (H == W), so that every sample keeps the batch's
        shape; for non-square batches only the flips happen (the coin is still drawn).

    Raises:
        ValueError: the selected tensors disagree in batch size or height/width, or a key is
            missing or not a 4-D tensor.

    Example:
        >>> x, y = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
        >>> b = {"input": x, "target": y, "key": ["a", "b"]}
        >>> out = random_flip_rotate(b, torch.Generator().manual_seed(0))
        >>> out["key"], tuple(out["input"].shape)
        (['a', 'b'], (2, 3, 4, 4))
    """
    if keys is None:
        names = [k for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() == 4]
    else:
        names = list(keys)
        for k in names:
            v = batch.get(k)
            if not (isinstance(v, torch.Tensor) and v.dim() == 4):
                got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                raise ValueError(f"batch[{k!r}] must be a 4-D tensor to be augmented, got {got}")
    out = dict(batch)
    if not names:
        return out
    shapes = {k: tuple(batch[k].shape) for k in names}
    ref = shapes[names[0]]
    if any(s[0] != ref[0] or s[-2:] != ref[-2:] for s in shapes.values()):
        raise ValueError(f"tensors to augment must share batch size and height/width, got {shapes}"
                         "; pass keys=... to choose which entries are image-like")
    b, square = ref[0], ref[-2] == ref[-1]
    coins = torch.randint(0, 2, (b, 3), generator=generator, device=generator.device).bool()
    for k in names:
        x = batch[k]
        c = coins.to(x.device).view(b, 3, 1, 1, 1)
        x = torch.where(c[:, 0], x.flip(-1), x)
        x = torch.where(c[:, 1], x.flip(-2), x)
        if square:
            x = torch.where(c[:, 2], x.transpose(-1, -2), x)
        out[k] = x
    return out


def hflip_pair(
    item: Mapping[str, Any], keys: Sequence[str] = ("input", "target", "depth")
) -> dict[str, Any]:
    """Mirror a training pair left-right: MBNet's flipped extra pairs (papers.md §4.6).

    MBNet adds, for each Track 1 scene, the 6500 K North input and its depth flipped
    horizontally, with the *flipped 4500 K West* image as the target. Flipping swaps image-left
    and image-right, so West becomes East (:data:`relight_lib.library.data.layout.FLIP_DIRECTION`) and the
    pair is a valid extra North -> East example. The caller builds the item with the 4500-W
    target; this function only flips. North stays North (the flip keeps front/back).

    Args:
        item: dict with tensors (C, H, W) or (B, C, H, W); at least ``'input'``.
        keys: entries to flip; those absent from ``item`` are skipped (``'input'`` must be there).
            Other entries (``key`` strings, labels) are copied unchanged.

    Returns:
        A new dict with the listed tensors mirrored along the last (width) dimension.

    Example:
        >>> item = {"input": torch.tensor([[[1.0, 2.0]]]), "key": "Image000"}
        >>> hflip_pair(item)
        {'input': tensor([[[2., 1.]]]), 'key': 'Image000'}
    """
    if "input" not in item:
        raise ValueError(f"item has no 'input' (keys: {sorted(item)})")
    out = dict(item)
    for k in keys:
        if k not in item:
            continue
        _check_tensor(item[k], f"item[{k!r}]")
        if item[k].dim() < 2:
            raise ValueError(f"item[{k!r}] must be an image (..., H, W), got {tuple(item[k].shape)}")
        out[k] = item[k].flip(-1)
    return out
