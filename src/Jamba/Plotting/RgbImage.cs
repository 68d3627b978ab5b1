namespace Jamba.Plotting;

/// <summary>An 8-bit RGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>White.</summary>
    public static Rgb White => new(255, 255, 255);
    /// <summary>Black.</summary>
    public static Rgb Black => new(0, 0, 0);
    /// <summary>Light grey for grid lines.</summary>
    public static Rgb Grid => new(225, 225, 225);

    /// <summary>A colour-blind-friendly palette (Okabe–Ito order) for series.</summary>
    public static IReadOnlyList<Rgb> Palette { get; } = new Rgb[]
    {
        new(0, 114, 178), new(213, 94, 0), new(0, 158, 115), new(204, 121, 167),
        new(230, 159, 0), new(86, 180, 233), new(240, 228, 66), new(0, 0, 0),
    };
}

/// <summary>A simple RGB raster with the drawing primitives plots need: pixels, rectangles, lines and text.</summary>
public sealed class RgbImage
{
    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>Row-major RGB bytes.</summary>
    public byte[] Pixels { get; }

    /// <summary>A <paramref name="width"/>×<paramref name="height"/> image filled with <paramref name="background"/>.</summary>
    public RgbImage(int width, int height, Rgb? background = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "width and height must be positive");
        Width = width;
        Height = height;
        Pixels = new byte[width * height * 3];
        FillRect(0, 0, width, height, background ?? Rgb.White);
    }

    /// <summary>Sets one pixel; coordinates outside the image are ignored.</summary>
    public void Set(int x, int y, Rgb c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = c.R; Pixels[i + 1] = c.G; Pixels[i + 2] = c.B;
    }

    /// <summary>The colour of a pixel.</summary>
    public Rgb Get(int x, int y)
    {
        int i = (y * Width + x) * 3;
        return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    /// <summary>Fills the rectangle [x, x+w) × [y, y+h).</summary>
    public void FillRect(int x, int y, int w, int h, Rgb c)
    {
        for (int yy = Math.Max(0, y); yy < Math.Min(Height, y + h); yy++)
            for (int xx = Math.Max(0, x); xx < Math.Min(Width, x + w); xx++)
                Set(xx, yy, c);
    }

    /// <summary>A line from (x0, y0) to (x1, y1) (Bresenham), <paramref name="thickness"/> pixels wide, clipped to <paramref name="clip"/> when given.</summary>
    public void DrawLine(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1, (int X, int Y, int W, int H)? clip = null)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
        int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        int err = dx + dy;
        int half = (thickness - 1) / 2;
        // Guard against absurd coordinates (a wild value far outside the axes) making the walk very long.
        if (dx > 100_000 || -dy > 100_000) return;
        while (true)
        {
            for (int oy = -half; oy < thickness - half; oy++)
                for (int ox = -half; ox < thickness - half; ox++)
                {
                    int px = x0 + ox, py = y0 + oy;
                    if (clip is { } r && (px < r.X || py < r.Y || px >= r.X + r.W || py >= r.Y + r.H)) continue;
                    Set(px, py, c);
                }
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y) in the built-in <see cref="BitmapFont"/>.</summary>
    public void DrawText(int x, int y, string text, Rgb c, int scale = 1)
    {
        for (int i = 0; i < text.Length; i++)
        {
            int ox = x + i * BitmapFont.Advance * scale;
            for (int gy = 0; gy < BitmapFont.GlyphHeight; gy++)
                for (int gx = 0; gx < BitmapFont.GlyphWidth; gx++)
                    if (BitmapFont.Ink(text[i], gx, gy)) FillRect(ox + gx * scale, y + gy * scale, scale, scale, c);
        }
    }

    /// <summary>Draws <paramref name="text"/> rotated 90° counter-clockwise (reading bottom to top) with its top-left at (x, y).</summary>
    public void DrawTextVertical(int x, int y, string text, Rgb c, int scale = 1)
    {
        int length = BitmapFont.Measure(text, scale);
        for (int i = 0; i < text.Length; i++)
        {
            int oy = y + length - i * BitmapFont.Advance * scale;
            for (int gy = 0; gy < BitmapFont.GlyphHeight; gy++)
                for (int gx = 0; gx < BitmapFont.GlyphWidth; gx++)
                    if (BitmapFont.Ink(text[i], gx, gy)) FillRect(x + gy * scale, oy - (gx + 1) * scale, scale, scale, c);
        }
    }

    /// <summary>The image as PNG bytes.</summary>
    public byte[] ToPng() => PngEncoder.Encode(Width, Height, Pixels);
}
