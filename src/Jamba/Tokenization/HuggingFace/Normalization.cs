using System.Text;
using System.Text.Json.Nodes;

namespace Jamba.Tokenization.HuggingFace;

/// <summary>
/// The <c>normalizer</c> of a <c>tokenizer.json</c>: the steps SentencePiece-style and byte-level BPE files use
/// (<c>Prepend</c>, <c>Replace</c>, the Unicode forms, <c>Lowercase</c>, <c>Strip</c>), applied in order to each
/// stretch of text between added tokens, as Hugging Face does.
/// </summary>
internal sealed class Normalization
{
    private readonly List<Func<string, string>> _steps = new();

    private Normalization() { }

    /// <summary>No normalization (a <c>null</c> normalizer).</summary>
    public static readonly Normalization None = new();

    public static Normalization Parse(JsonNode? node)
    {
        if (node is null) return None;
        var result = new Normalization();
        foreach (var step in JsonSteps.Flatten(node, "normalizers", "normalizer"))
        {
            string type = JsonSteps.TypeOf(step, "normalizer");
            result._steps.Add(type switch
            {
                "Prepend" => Prepend(step["prepend"]?.GetValue<string>() ?? throw new InvalidDataException("normalizer Prepend has no \"prepend\"")),
                "Replace" => Replace(step),
                "NFC" => s => s.Normalize(NormalizationForm.FormC),
                "NFD" => s => s.Normalize(NormalizationForm.FormD),
                "NFKC" => s => s.Normalize(NormalizationForm.FormKC),
                "NFKD" => s => s.Normalize(NormalizationForm.FormKD),
                "Lowercase" => s => s.ToLowerInvariant(),
                "Strip" => Strip(step["strip_left"]?.GetValue<bool>() ?? true, step["strip_right"]?.GetValue<bool>() ?? true),
                _ => throw new NotSupportedException($"tokenizer.json normalizer step \"{type}\" is not supported (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip)"),
            });
        }
        return result;
    }

    public string Apply(string text)
    {
        foreach (var step in _steps) text = step(text);
        return text;
    }

    private static Func<string, string> Prepend(string prefix) => s => s.Length == 0 ? s : prefix + s;

    private static Func<string, string> Replace(JsonNode step)
    {
        var pattern = JsonSteps.Pattern(step["pattern"], "normalizer Replace");
        string content = step["content"]?.GetValue<string>() ?? "";
        return s => pattern.Replace(s, content.Replace("$", "$$"));
    }

    private static Func<string, string> Strip(bool left, bool right) => s =>
        left && right ? s.Trim() : left ? s.TrimStart() : right ? s.TrimEnd() : s;
}
