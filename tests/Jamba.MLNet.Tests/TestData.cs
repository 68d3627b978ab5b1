using Jamba.Planning;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Tests;

public sealed class TextRow
{
    public string? Text { get; set; }
}

public sealed class LabeledText
{
    public string Text { get; set; } = "";
    public string Label { get; set; } = "";
}

public sealed class BinaryText
{
    public string Text { get; set; } = "";
    public bool Label { get; set; }
}

public sealed class RegressionText
{
    public string Text { get; set; } = "";
    public float Label { get; set; }
}

public sealed class NumberRow
{
    public float Text { get; set; }
}

public sealed class ChoiceRow
{
    public string Text { get; set; } = "";
    [VectorType(3)]
    public string[] Choices { get; set; } = Array.Empty<string>();
}

public sealed class MulticlassPrediction
{
    public float[] Score { get; set; } = Array.Empty<float>();
    public string PredictedText { get; set; } = "";
}

public sealed class EmbeddingPrediction
{
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>One small random model shared by the tests (read-only: nothing may train or change it).</summary>
internal static class TestModels
{
    private static readonly Lazy<JambaModel> tiny = new(() => JambaModel.Create(Presets.Tiny(), seed: 1));

    /// <summary>The "tiny" preset (about 1M parameters) with the byte tokenizer.</summary>
    public static JambaModel Tiny => tiny.Value;

    public static readonly string[] Topics = { "sports", "food", "music" };

    private static readonly string[][] Words =
    {
        new[] { "goal", "match", "team", "score", "coach", "league" },
        new[] { "bread", "soup", "pasta", "salad", "cheese", "apple" },
        new[] { "song", "guitar", "piano", "drums", "melody", "band" },
    };

    private static readonly string[] Filler = { "the", "a", "today", "really", "we", "saw", "new", "great", "some", "about" };

    /// <summary>An easy, separable three-class topic task: each text contains words of its topic only.</summary>
    public static List<LabeledText> Topic(int count, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<LabeledText>();
        for (int i = 0; i < count; i++)
        {
            int c = rng.Next(3);
            var parts = new List<string>();
            int n = rng.Next(1, 3);
            for (int k = 0; k < n; k++) parts.Add(rng.Next(2) == 0 ? Filler[rng.Next(Filler.Length)] : Words[c][rng.Next(Words[c].Length)]);
            parts.Add(Words[c][rng.Next(Words[c].Length)]);
            rows.Add(new LabeledText { Text = string.Join(" ", parts), Label = Topics[c] });
        }
        return rows;
    }

    public static MLContext Context() => new(seed: 1);
}
