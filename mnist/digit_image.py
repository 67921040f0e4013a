"""Any image of a handwritten digit, made into an MNIST digit.

MNIST digits are white ink on black, their bounding box scaled into 20x20
(keeping the aspect ratio, by averaging areas, so the edges get grey
levels) and placed in a 28x28 field with the centre of mass in the middle.
The handwriting pad and classify_images both feed MNIST models this way.
Only NumPy: no TensorFlow here.

 ink, inverted = ink_of(image)        # decoded pixels -> grey ink, 0 paper
 digit = mnist_preprocess(ink)        # any size, ink high -> [28, 28]
"""

import numpy as np

FIELD = 28  # MNIST images are 28x28 ...
BOX = 20  # ... with the digit scaled to fit 20x20 in the middle.
INK_THRESHOLD = 0.2  # Share of the strongest ink that sets the box.
# ITU-R BT.601 luma weights: how bright red, green and blue look.
LUMA = np.array([0.299, 0.587, 0.114])


def _area_matrix(n_out, n_in):
  """[n_out, n_in] weights that resample a line by averaging areas.

  Output pixel i covers [i, i + 1) * n_in / n_out of the input line; its
  value is the mean of the input over that span, each input pixel weighted
  by how much of it lies inside. Rows sum to 1.
  """
  edges = np.arange(n_out + 1) * (n_in / n_out)
  lo, hi = edges[:-1, None], edges[1:, None]
  j = np.arange(n_in)[None, :]
  overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
  return overlap / (n_in / n_out)


def mnist_preprocess(gray, threshold=INK_THRESHOLD):
  """Makes an MNIST-style 28x28 digit out of a grey image with ink high.

  As LeCun, Cortes and Burges made MNIST: the ink's bounding box is scaled
  to fit 20x20 keeping its aspect ratio, by averaging areas (so the edges
  get grey levels, as in MNIST, not the jagged ones of nearest-neighbour
  sampling), then placed in a 28x28 field so that its centre of mass is at
  pixel (14, 14), as closely as whole-pixel shifts allow, and the box stays
  inside the field.

  Args:
    gray: 2-D array of any size and scale, ink high, background 0.
    threshold: pixels at least this share of the brightest one set the
      bounding box; fainter ones outside it are dropped.

  Returns:
    float32 [28, 28] in [0, 1] (the brightest pixel is 1); all zeros when
    there is no ink.

  Raises:
    ValueError: gray is not a 2-D array of finite numbers.
  """
  gray = np.asarray(gray, dtype=np.float64)
  if gray.ndim != 2 or not gray.size or not np.all(np.isfinite(gray)):
    raise ValueError('mnist_preprocess needs a non-empty 2-D array of finite '
                     'numbers, not shape %s' % (gray.shape,))
  field = np.zeros((FIELD, FIELD), np.float32)
  peak = gray.max()
  if peak <= 0:
    return field
  gray = np.clip(gray / peak, 0.0, 1.0)
  ink = gray >= threshold
  rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
  crop = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
  height, width = crop.shape
  scale = BOX / max(height, width)
  new_h = min(BOX, max(1, int(round(height * scale))))
  new_w = min(BOX, max(1, int(round(width * scale))))
  small = _area_matrix(new_h, height) @ crop @ _area_matrix(new_w, width).T
  # Thin strokes average down to faint grey; MNIST's strokes have saturated
  # cores, so give the digit full contrast again.
  small /= small.max()
  mass = small.sum()
  centre_y = (small.sum(axis=1) @ np.arange(new_h)) / mass
  centre_x = (small.sum(axis=0) @ np.arange(new_w)) / mass
  centre = FIELD // 2
  top = min(max(int(np.floor(centre - centre_y + 0.5)), 0), FIELD - new_h)
  left = min(max(int(np.floor(centre - centre_x + 0.5)), 0), FIELD - new_w)
  field[top:top + new_h, left:left + new_w] = small
  return field


def ink_of(image):
  """Grey ink on a zero background, white on black as MNIST, from pixels.

  Transparent parts count as white paper. An image whose border is mostly
  light (dark ink on paper, a scan, a photo) is inverted. The background
  level, the median of the border pixels, is then subtracted.

  Args:
    image: decoded pixels 0-255, [height, width] or [height, width, c]
      with c = 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA), as image
      decoders give them.

  Returns:
    (ink, inverted): float64 [height, width], ink high and the background
    at 0; and whether the image was dark on light, so inverted.

  Raises:
    ValueError: image is not such an array.
  """
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[:, :, None]
  if (image.ndim != 3 or not image.shape[0] or not image.shape[1]
      or image.shape[2] not in (1, 2, 3, 4)):
    raise ValueError('ink_of needs pixels [height, width] or [height, width, '
                     '1-4], not shape %s' % (image.shape,))
  image = image.astype(np.float64) / 255.0
  if image.shape[-1] in (2, 4):
    # Composite over white paper: transparent pixels are often black
    # underneath, which would read as ink.
    alpha = image[..., -1:]
    image = image[..., :-1] * alpha + (1.0 - alpha)
  grey = image @ LUMA if image.shape[-1] == 3 else image[..., 0]
  border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
  background = np.median(border)
  inverted = background > 0.5
  if inverted:
    grey, background = 1.0 - grey, 1.0 - background
  return np.clip(grey - background, 0.0, None), bool(inverted)
