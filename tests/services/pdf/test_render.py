"""The receipt's QR code: the same squares reportlab's own QR widget would draw."""

from reportlab.graphics.barcode.qr import QrCodeWidget

from services.pdf.render import QR_SIZE, QrCode


class _Path:
    def __init__(self):
        self.rects = []

    def rect(self, x, y, width, height):
        self.rects.append((x, y, width, height))


class _Canvas:
    def __init__(self):
        self.path = _Path()
        self.painted = []

    def beginPath(self):  # noqa: N802 - reportlab's name
        return self.path

    def drawPath(self, path, stroke, fill):  # noqa: N802 - reportlab's name
        self.painted.append((path, stroke, fill))


def _rounded(rects):
    return sorted(tuple(round(v, 6) for v in rect) for rect in rects)


def test_the_qr_code_paints_the_widgets_squares_in_one_filled_path():
    text = "SG-7K4Q-92XD"
    widget = QrCodeWidget(text, barLevel="M", barWidth=QR_SIZE, barHeight=QR_SIZE)
    expected = [
        (shape.x, shape.y, shape.width, shape.height)
        for shape in widget.draw().contents
        if shape.fillColor is not None  # the first shape is the unfilled frame
    ]
    code = QrCode(text)
    canvas = _Canvas()
    code.canv = canvas
    code.draw()
    assert canvas.painted == [(canvas.path, 0, 1)]
    assert _rounded(canvas.path.rects) == _rounded(expected)
    assert code.width == code.height == QR_SIZE
