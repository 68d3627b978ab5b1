namespace Jamba.Tokenization.HuggingFace;

/// <summary>
/// GPT-2's byte-to-character table, which byte-level BPE vocabularies (GPT-2, Llama 3, Qwen) are written in: printable
/// Latin-1 bytes stand for themselves, the other 68 bytes for the characters U+0100 onwards (a space is <c>Ġ</c>).
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildTable();
    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    private static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>The vocabulary spelling of <paramref name="text"/>'s UTF-8 bytes.</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text.ToArray());
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>Appends the bytes a vocabulary spelling stands for; characters outside the table are kept as their UTF-8.</summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        Span<byte> buffer = stackalloc byte[4];
        foreach (var rune in token.EnumerateRunes())
        {
            if (rune.IsBmp && CharToByte.TryGetValue((char)rune.Value, out byte b)) output.Add(b);
            else
            {
                int n = rune.EncodeToUtf8(buffer);
                foreach (byte x in buffer[..n]) output.Add(x);
            }
        }
    }
}
