using System.Text.Json.Nodes;
using Jamba.Inference;
using Jamba.MLNet.Internal;
using Microsoft.ML;
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

    internal JsonObject ToJson() => new()
    {
        ["pooling"] = Pooling.ToString(), ["normalize"] = Normalize, ["maxTokens"] = MaxTokens,
        ["truncation"] = Truncation.ToString(), ["addBos"] = AddBos, ["batchSize"] = BatchSize,
    };
    internal static JambaEmbedOptions FromJson(JsonNode? n) => new()
    {
        Pooling = Enum.Parse<EmbeddingPooling>((string)n!["pooling"]!), Normalize = (bool)n["normalize"]!, MaxTokens = (int)n["maxTokens"]!,
        Truncation = Enum.Parse<TruncationPolicy>((string)n["truncation"]!), AddBos = (bool)n["addBos"]!, BatchSize = (int)n["batchSize"]!,
    };
}

/// <summary>Estimator of <see cref="JambaEmbeddingTransformer"/>: text → <c>Vector&lt;Single, hidden_size&gt;</c>.</summary>
public sealed class JambaEmbeddingEstimator : JambaEstimatorBase<JambaEmbeddingTransformer>
{
    private readonly JambaModel model;
    private readonly string outputColumnName, inputColumnName;
    private readonly JambaEmbedOptions options;

    internal JambaEmbeddingEstimator(JambaModel model, string outputColumnName, string inputColumnName, JambaEmbedOptions options)
    {
        this.model = model;
        this.outputColumnName = outputColumnName;
        this.inputColumnName = inputColumnName;
        this.options = options;
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.Check(inputSchema, JambaEmbeddingTransformer.Component, "input", inputColumnName, ColumnExpectation.Text);
        return MLNetInterop.Extend(inputSchema, new[] { MLNetInterop.ShapeColumn(outputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
    }

    private protected override JambaEmbeddingTransformer Create() => new(model, false, outputColumnName, inputColumnName, options);
}

/// <summary>
/// Adds a known-size <c>Vector&lt;Single, hidden_size&gt;</c> sentence embedding from the decoder stack's final hidden
/// states, ready for any ML.NET trainer or for clustering and search. Null or empty text embeds just BOS (a zero
/// vector when BOS is off or the vocabulary has none); longer texts are truncated to <see cref="JambaEmbedOptions.MaxTokens"/>.
/// </summary>
public sealed class JambaEmbeddingTransformer : JambaTransformerBase
{
    internal const string Component = "Jamba Embed";
    internal const string Kind = "Embed";

    /// <summary>The added column.</summary>
    public string OutputColumnName { get; }
    /// <summary>The text column read.</summary>
    public string InputColumnName { get; }
    /// <summary>The options (do not change after fitting).</summary>
    public JambaEmbedOptions Options { get; }
    /// <summary>The vector length (the model's hidden size).</summary>
    public int Dimension => Model.Config.HiddenSize;

    internal JambaEmbeddingTransformer(JambaModel model, bool ownsModel, string outputColumnName, string inputColumnName, JambaEmbedOptions options) : base(model, ownsModel)
    {
        model.RequireTokenizer();
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1");
        if (options.MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxTokens, "MaxTokens must be 0 (no limit) or positive");
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Options = options;
    }

    internal override string PersistenceKind => Kind;
    internal override JsonObject SaveSettings() => new() { ["output"] = OutputColumnName, ["input"] = InputColumnName, ["options"] = Options.ToJson() };
    internal static JambaEmbeddingTransformer Load(JambaModel model, bool owns, JsonObject s) =>
        new(model, owns, (string)s["output"]!, (string)s["input"]!, JambaEmbedOptions.FromJson(s["options"]));

    internal override JambaMapper Bind(DataViewSchema inputSchema)
    {
        var column = SchemaChecks.Check(inputSchema, Component, "input", InputColumnName, ColumnExpectation.Text);
        return new Mapper(this, inputSchema, column);
    }

    private sealed class Mapper : JambaMapper
    {
        private readonly JambaEmbeddingTransformer parent;

        public Mapper(JambaEmbeddingTransformer parent, DataViewSchema schema, DataViewSchema.Column column)
            : base(schema, new[] { new InputColumn(column, ColumnReaders.Text) },
                   new[] { new OutputColumn(parent.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, parent.Dimension)) })
            => this.parent = parent;

        public override int BatchSize => parent.Options.BatchSize;

        public override object?[][] MapBatch(IReadOnlyList<object?[]> rows)
        {
            var o = parent.Options;
            var tokenizer = parent.Model.RequireTokenizer();
            var ids = rows.Select(r => (IReadOnlyList<int>)TextEncoding.Encode(tokenizer, (string?)r[0], o.MaxTokens, o.Truncation, o.AddBos)).ToList();
            var vectors = TextEmbedding.Embed(parent.Model.Backbone, ids, o.Pooling, o.Normalize);
            return new[] { vectors.Cast<object?>().ToArray() };
        }
    }
}
