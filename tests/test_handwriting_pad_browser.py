"""The handwriting pad in a real browser: headless Chromium from Debian's
packages, driven by Selenium through the system chromedriver. Strokes are
drawn with real pointer actions; real MNIST test digits are painted and read
by a mnist_deep checkpoint trained here on the real data.

UPDATE_SCREENSHOT=1 saves the page with a drawn digit to
scripts/handwriting_pad.png (for the README)."""

import os
import time

import numpy as np
import pytest
from conftest import import_or_skip, REPO, skip_unless_required
from test_handwriting_pad import _serving

from mnist import trained_models

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
SCREENSHOT = os.path.join(REPO, 'scripts', 'handwriting_pad.png')
# conftest's real_mnist_deep: mnist_deep with Adam at 1e-3 (the tutorial's
# 1e-4 gave 97.8% after 2000 steps, 282 s): on this project's 2-core VM at
# load 10, 1200 steps of 50 gave 98.1-98.7% (173 s), 1500 steps 98.7-98.8%
# (182-220 s, about 0.07 CPU-seconds a step), and the pad then read 98.8% of
# 1000 test digits (35 s). With 1500 the 97% asked of the pad is about three
# standard deviations (sampling and run-to-run) below what it reads.
N_DIGITS = 1000  # Real test digits painted on the pad.
CHUNK = 100  # Digits per WebDriver call.
# real_mnist_deep (conftest) is trained once for the whole run, with the
# settings this comment explains.


@pytest.fixture
def browser(tmp_path):
  for path in (CHROMIUM, CHROMEDRIVER):
    if not os.access(path, os.X_OK):
      skip_unless_required('%s is missing: apt-get install chromium '
                           'chromium-driver' % path)
  webdriver = import_or_skip(
      'selenium.webdriver', 'selenium is missing: pip install selenium (in '
      "the project's test extra)")
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for arg in ('--headless=new', '--no-sandbox', '--disable-gpu',
              '--disable-dev-shm-usage', '--disable-background-networking',
              '--disable-component-update', '--disable-sync',
              '--no-first-run', '--window-size=1000,640',
              '--user-data-dir=%s' % (tmp_path / 'chromium')):
    options.add_argument(arg)
  # An explicit driver path: Selenium's own manager downloads nothing.
  driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER),
                            options=options)
  driver.set_script_timeout(60)
  try:
    yield driver
  finally:
    driver.quit()


@pytest.fixture
def deep_pad(real_mnist_deep):
  model = trained_models.load_model(real_mnist_deep['log_dir'], 'mnist_deep')
  with _serving(model) as port:
    yield 'http://127.0.0.1:%d/' % port, model
  model.close()


def _idle(driver):
  driver.execute_async_script(
      'window.pad.whenIdle().then(arguments[arguments.length - 1]);')


def _draw(driver, strokes):
  """Draws strokes of (x, y) canvas points with real pointer actions."""
  from selenium.webdriver import ActionChains
  from selenium.webdriver.common.by import By
  pad = driver.find_element(By.ID, 'pad')
  actions = ActionChains(driver, duration=5)
  for stroke in strokes:
    points = [(int(round(x)), int(round(y))) for x, y in stroke]
    actions.move_to_element_with_offset(pad, points[0][0] - 140,
                                        points[0][1] - 140).click_and_hold()
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
      actions.move_by_offset(x1 - x0, y1 - y0)
    actions.release()
  actions.perform()
  _idle(driver)


def _shown(driver):
  """(top guess, {digit: percent}, pixels of the 28x28 'seen' image)."""
  from selenium.webdriver.common.by import By
  guess = driver.find_element(By.ID, 'guess').text
  bars = {}
  for row in driver.find_elements(By.CSS_SELECTOR, '#bars .row'):
    digit = row.find_element(By.CLASS_NAME, 'digit').text
    bars[digit] = float(row.find_element(By.CLASS_NAME, 'pct').text[:-1])
    assert ('top' in row.get_attribute('class')) == (digit == guess)
  seen = driver.execute_script(
      'return Array.from(document.getElementById("seen").getContext("2d")'
      '.getImageData(0, 0, 28, 28).data);')
  return guess, bars, np.array(seen).reshape(28, 28, 4)[..., 0]


def _line(x0, y0, x1, y1, n=12):
  return [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
          for t in np.linspace(0, 1, n)]


@pytest.mark.slow
def test_browser_draws_with_the_pointer(browser, deep_pad):
  url, model = deep_pad
  browser.get(url)
  assert _shown(browser)[0] == '?'
  digits = {
      '1': [_line(140, 45, 145, 235)],
      '0': [[(140 + 60 * np.sin(a), 140 - 90 * np.cos(a))
             for a in np.linspace(0, 2 * np.pi, 40)]],
      '7': [_line(80, 60, 205, 60) + _line(205, 60, 120, 240)[1:]],
      # A 2: an arc over the top, a diagonal down and a base line.
      '2': [[(140 - 55 * np.cos(a), 105 - 50 * np.sin(a))
             for a in np.linspace(0.3, np.pi + 0.6, 14)]
            + _line(180, 140, 85, 230)[1:] + _line(85, 230, 200, 228)[1:]],
  }
  for digit, strokes in digits.items():
    browser.find_element('id', 'clear').click()
    _draw(browser, strokes)
    guess, bars, seen = _shown(browser)
    assert guess == digit, bars
    assert sum(bars.values()) == pytest.approx(100, abs=1)
    assert bars[guess] == max(bars.values()) and seen.max() == 255
  if os.environ.get('UPDATE_SCREENSHOT') == '1':
    browser.execute_script('window.scrollTo(0, 0);')
    browser.save_screenshot(SCREENSHOT)
  browser.find_element('id', 'clear').click()
  _idle(browser)
  guess, bars, seen = _shown(browser)
  assert guess == '?' and set(bars.values()) == {0.0} and not seen.any()


@pytest.mark.slow
def test_browser_reads_real_mnist_digits(browser, deep_pad, real_mnist_deep):
  url, model = deep_pad
  browser.get(url)
  test = real_mnist_deep['test']
  images, labels = test.images[:N_DIGITS], test.labels[:N_DIGITS]
  # Each digit is painted by the page's own helper (window.pad.paint: one
  # 10x10 rectangle per pixel, then the drawing's send-and-show path), not
  # by pointer moves: tracing 1000 digits through WebDriver pointer actions
  # would take far too long, and the strokes test above covers the pointer.
  browser.set_script_timeout(300)
  pixels = np.round(images.reshape(-1, 28, 28) * 255).astype(int).tolist()
  start = time.time()
  guesses = []
  for i in range(0, len(pixels), CHUNK):
    guesses += browser.execute_async_script('''
        const digits = arguments[0], done = arguments[arguments.length - 1];
        const guesses = [];
        (async () => {
          for (const rows of digits) {
            await window.pad.paint(rows);
            guesses.push(document.getElementById('guess').textContent);
          }
          done(guesses);
        })();''', pixels[i:i + CHUNK])
  seconds = time.time() - start
  pad_accuracy = np.mean(np.array(guesses, int) == labels)
  direct = np.mean(model.predict(images).argmax(1) == labels)
  print('pad: %d digits in %.1f s, accuracy %.4f (model on the raw digits: '
        '%.4f; whole test set: %.4f)' % (N_DIGITS, seconds, pad_accuracy,
                                         direct, real_mnist_deep['accuracy']))
  assert pad_accuracy >= 0.97
