using System.Text.Json.Nodes;
using Jamba.Inference;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>Options of <see cref="JambaTransformsCatalog.Tokenize(string, string, JambaModel, JambaTokenizeOptions)"/>.</summary>
public sealed class JambaTokenizeOptions
{
    /// <summary>Most ids per row, BOS/EOS included; 0 means no limit. Default 512.</summary>
    public int MaxTokens { get; set; } = 512;
    /// <summary>Which ids survive when a text is longer than <see cref="MaxTokens"/>. Default: keep the start.</summary>
    public TruncationPolicy Truncation { get; set; } = TruncationPolicy.KeepStart;
    /// <summary>Put the BOS id first (when the vocabulary has one). Default false (the ids of the text only).</summary>
    public bool AddBos { get; set; }
    /// <summary>Put the EOS id last (when the vocabulary has one), after truncation. Default false.</summary>
    public bool AddEos { get; set; }
}

/// <summary>
/// Adds a variable-size <c>Vector&lt;Int32&gt;</c> of the model tokenizer's ids for a text column. Null or empty text
/// gives an empty vector (only BOS/EOS when asked for); longer texts are cut to <see cref="JambaTokenizeOptions.MaxTokens"/>.
/// </summary>
public sealed class JambaTokenizingTransformer : JambaTextTransformer<JambaTokenizeOptions>
{
    internal const string Kind = "Tokenize";

    internal JambaTokenizingTransformer(JambaModel model, bool ownsModel, string outputColumnName, string inputColumnName, JambaTokenizeOptions options)
        : base(model, ownsModel, outputColumnName, inputColumnName, options)
    {
        if (options.MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxTokens, "MaxTokens must be 0 (no limit) or positive");
    }

    internal static JambaTokenizingTransformer Load(JambaModel model, bool owns, JsonObject settings) =>
        Load(settings, Kind, (output, input, options) => new JambaTokenizingTransformer(model, owns, output, input, options));

    internal override string PersistenceKind => Kind;
    private protected override DataViewType OutputType => new VectorDataViewType(NumberDataViewType.Int32);
    private protected override int BatchSize => 64;

    private protected override object?[] Map(IReadOnlyList<string?> texts)
    {
        var tokenizer = Model.RequireTokenizer();
        var o = Options;
        // EOS goes after truncation, so it needs one place of the budget.
        int room = o.MaxTokens > 0 && o.AddEos && tokenizer.EosId is not null ? Math.Max(0, o.MaxTokens - 1) : o.MaxTokens;
        return texts.Select(text =>
        {
            var ids = TextEncoding.Encode(tokenizer, text, room, o.Truncation, o.AddBos);
            if (o.AddEos && tokenizer.EosId is int eos && (o.MaxTokens <= 0 || ids.Length < o.MaxTokens)) ids = [.. ids, eos];
            return (object?)ids;
        }).ToArray();
    }
}
