using System.Text.Json.Nodes;
using Jamba.Inference;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>Options of <see cref="JambaTransformsCatalog.Embed(string, string, JambaModel, JambaEmbedOptions)"/>.</summary>
public sealed class JambaEmbedOptions
{
    /// <summary>How token states become one vector: mean over real tokens (default) or the last token's state.</summary>
    public EmbeddingPooling Pooling { get; set; } = EmbeddingPooling.Mean;
    /// <summary>Scale each vector to unit length, so a dot product is the cosine similarity. Default false.</summary>
    public bool Normalize { get; set; }
    /// <summary>Most tokens read per text, BOS included; 0 means no limit. Default 512.</summary>
    public int MaxTokens { get; set; } = 512;
    /// <summary>Which tokens survive truncation. Default: keep the start.</summary>
    public TruncationPolicy Truncation { get; set; } = TruncationPolicy.KeepStart;
    /// <summary>Start each text with BOS, as the model saw texts in training. Default true.</summary>
    public bool AddBos { get; set; } = true;
    /// <summary>Rows per forward pass. Default 16.</summary>
    public int BatchSize { get; set; } = 16;
}

/// <summary>
/// Adds a known-size <c>Vector&lt;Single, hidden_size&gt;</c> sentence embedding from the decoder stack's final hidden
/// states, ready for any ML.NET trainer or for clustering and search. Null or empty text embeds just BOS (a zero
/// vector when BOS is off or the vocabulary has none); longer texts are truncated to <see cref="JambaEmbedOptions.MaxTokens"/>.
/// </summary>
public sealed class JambaEmbeddingTransformer : JambaTextTransformer<JambaEmbedOptions>
{
    internal const string Kind = "Embed";

    internal JambaEmbeddingTransformer(JambaModel model, bool ownsModel, string outputColumnName, string inputColumnName, JambaEmbedOptions options)
        : base(model, ownsModel, outputColumnName, inputColumnName, options)
    {
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1");
        if (options.MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxTokens, "MaxTokens must be 0 (no limit) or positive");
    }

    internal static JambaEmbeddingTransformer Load(JambaModel model, bool owns, JsonObject settings) =>
        Load(settings, Kind, (output, input, options) => new JambaEmbeddingTransformer(model, owns, output, input, options));

    /// <summary>The vector length (the model's hidden size).</summary>
    public int Dimension => Model.Config.HiddenSize;

    internal override string PersistenceKind => Kind;
    private protected override DataViewType OutputType => new VectorDataViewType(NumberDataViewType.Single, Dimension);
    private protected override int BatchSize => Options.BatchSize;

    private protected override object?[] Map(IReadOnlyList<string?> texts)
    {
        var tokenizer = Model.RequireTokenizer();
        var ids = texts.Select(t => (IReadOnlyList<int>)TextEncoding.Encode(tokenizer, t, Options.MaxTokens, Options.Truncation, Options.AddBos)).ToList();
        return TextEmbedding.Embed(Model.Backbone, ids, Options.Pooling, Options.Normalize).Cast<object?>().ToArray();
    }
}
