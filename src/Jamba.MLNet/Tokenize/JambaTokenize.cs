using System.Text.Json.Nodes;
using Jamba.Inference;
using Jamba.MLNet.Internal;
using Microsoft.ML;
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

    internal JsonObject ToJson() => new() { ["maxTokens"] = MaxTokens, ["truncation"] = Truncation.ToString(), ["addBos"] = AddBos, ["addEos"] = AddEos };
    internal static JambaTokenizeOptions FromJson(JsonNode? n) => new()
    {
        MaxTokens = (int)n!["maxTokens"]!, Truncation = Enum.Parse<TruncationPolicy>((string)n["truncation"]!),
        AddBos = (bool)n["addBos"]!, AddEos = (bool)n["addEos"]!,
    };
}

/// <summary>Estimator of <see cref="JambaTokenizingTransformer"/>: text → <c>Vector&lt;Int32&gt;</c> of token ids.</summary>
public sealed class JambaTokenizingEstimator : JambaEstimatorBase<JambaTokenizingTransformer>
{
    private readonly JambaModel model;
    private readonly string outputColumnName, inputColumnName;
    private readonly JambaTokenizeOptions options;

    internal JambaTokenizingEstimator(JambaModel model, string outputColumnName, string inputColumnName, JambaTokenizeOptions options)
    {
        this.model = model;
        this.outputColumnName = outputColumnName;
        this.inputColumnName = inputColumnName;
        this.options = options;
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.Check(inputSchema, JambaTokenizingTransformer.Component, "input", inputColumnName, ColumnExpectation.Text);
        return MLNetInterop.Extend(inputSchema, new[] { MLNetInterop.ShapeColumn(outputColumnName, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Int32, false) });
    }

    private protected override JambaTokenizingTransformer Create() => new(model, false, outputColumnName, inputColumnName, options);
}

/// <summary>
/// Adds a variable-size <c>Vector&lt;Int32&gt;</c> of the model tokenizer's ids for a text column. Null or empty text
/// gives an empty vector (only BOS/EOS when asked for); longer texts are cut to <see cref="JambaTokenizeOptions.MaxTokens"/>.
/// </summary>
public sealed class JambaTokenizingTransformer : JambaTransformerBase
{
    internal const string Component = "Jamba Tokenize";
    internal const string Kind = "Tokenize";

    /// <summary>The added column.</summary>
    public string OutputColumnName { get; }
    /// <summary>The text column read.</summary>
    public string InputColumnName { get; }
    /// <summary>The options (do not change after fitting).</summary>
    public JambaTokenizeOptions Options { get; }

    internal JambaTokenizingTransformer(JambaModel model, bool ownsModel, string outputColumnName, string inputColumnName, JambaTokenizeOptions options) : base(model, ownsModel)
    {
        model.RequireTokenizer();
        if (options.MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxTokens, "MaxTokens must be 0 (no limit) or positive");
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Options = options;
    }

    internal override string PersistenceKind => Kind;
    internal override JsonObject SaveSettings() => new() { ["output"] = OutputColumnName, ["input"] = InputColumnName, ["options"] = Options.ToJson() };
    internal static JambaTokenizingTransformer Load(JambaModel model, bool owns, JsonObject s) =>
        new(model, owns, (string)s["output"]!, (string)s["input"]!, JambaTokenizeOptions.FromJson(s["options"]));

    internal override JambaMapper Bind(DataViewSchema inputSchema)
    {
        var column = SchemaChecks.Check(inputSchema, Component, "input", InputColumnName, ColumnExpectation.Text);
        return new Mapper(this, inputSchema, column);
    }

    private sealed class Mapper : JambaMapper
    {
        private readonly JambaTokenizingTransformer parent;

        public Mapper(JambaTokenizingTransformer parent, DataViewSchema schema, DataViewSchema.Column column)
            : base(schema, new[] { new InputColumn(column, ColumnReaders.Text) },
                   new[] { new OutputColumn(parent.OutputColumnName, new VectorDataViewType(NumberDataViewType.Int32)) })
            => this.parent = parent;

        public override int BatchSize => 64;

        public override object?[][] MapBatch(IReadOnlyList<object?[]> rows)
        {
            var tokenizer = parent.Model.RequireTokenizer();
            var o = parent.Options;
            var output = new object?[rows.Count];
            for (int r = 0; r < rows.Count; r++)
            {
                int room = o.MaxTokens > 0 && o.AddEos && tokenizer.EosId is not null ? Math.Max(0, o.MaxTokens - 1) : o.MaxTokens;
                var ids = TextEncoding.Encode(tokenizer, (string?)rows[r][0], room, o.Truncation, o.AddBos);
                if (o.AddEos && tokenizer.EosId is int eos && (o.MaxTokens <= 0 || ids.Length < o.MaxTokens)) ids = ids.Append(eos).ToArray();
                output[r] = ids;
            }
            return new[] { output };
        }
    }
}
