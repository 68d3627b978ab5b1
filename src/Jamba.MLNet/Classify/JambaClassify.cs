using System.Text.Json.Nodes;
using Jamba.Inference;
using Jamba.MLNet.Internal;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>Options of <see cref="JambaTransformsCatalog.Classify(string, JambaModel, IEnumerable{string}, JambaClassifyOptions)"/>.</summary>
public sealed class JambaClassifyOptions
{
    /// <summary>
    /// The prompt built from each text; <c>{text}</c> is replaced by the row's text. Few-shot examples go here too.
    /// Default <c>"{text}"</c>.
    /// </summary>
    public string PromptTemplate { get; set; } = "{text}";
    /// <summary>Put before every label or choice when scoring it (a space suits most tokenizers). Default <c>" "</c>.</summary>
    public string ChoicePrefix { get; set; } = " ";
    /// <summary>Score a label by its mean token log-probability instead of the sum (helps when labels differ in length). Default false.</summary>
    public bool LengthNormalize { get; set; }
    /// <summary>
    /// A per-row column of candidate answers (<c>Vector&lt;String&gt;</c>) scored instead of fixed labels, for
    /// multiple-choice benchmarks. Null (default): use the labels given to Classify.
    /// </summary>
    public string? ChoicesColumnName { get; set; }
    /// <summary>Most prompt tokens kept, BOS included (0: no limit). Default 512; longer prompts keep their end.</summary>
    public int MaxTokens { get; set; } = 512;
    /// <summary>Which prompt tokens survive truncation. Default: keep the end (next to the answer).</summary>
    public TruncationPolicy Truncation { get; set; } = TruncationPolicy.KeepEnd;
    /// <summary>Start prompts with BOS. Default true.</summary>
    public bool AddBos { get; set; } = true;
    /// <summary>Rows per forward pass (each row costs one sequence per label). Default 8.</summary>
    public int BatchSize { get; set; } = 8;
    /// <summary>Name of the probabilities column. Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = "Score";
    /// <summary>Name of the predicted-label key column. Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";
    /// <summary>With a choices column of variable size: the key range of PredictedLabel (rows may have at most this many choices). Default 26.</summary>
    public int MaxChoices { get; set; } = 26;

    internal JsonObject ToJson() => new()
    {
        ["promptTemplate"] = PromptTemplate, ["choicePrefix"] = ChoicePrefix, ["lengthNormalize"] = LengthNormalize,
        ["choicesColumnName"] = ChoicesColumnName, ["maxTokens"] = MaxTokens, ["truncation"] = Truncation.ToString(),
        ["addBos"] = AddBos, ["batchSize"] = BatchSize, ["scoreColumnName"] = ScoreColumnName,
        ["predictedLabelColumnName"] = PredictedLabelColumnName, ["maxChoices"] = MaxChoices,
    };
    internal static JambaClassifyOptions FromJson(JsonNode? n) => new()
    {
        PromptTemplate = (string)n!["promptTemplate"]!, ChoicePrefix = (string)n["choicePrefix"]!, LengthNormalize = (bool)n["lengthNormalize"]!,
        ChoicesColumnName = (string?)n["choicesColumnName"], MaxTokens = (int)n["maxTokens"]!, Truncation = Enum.Parse<TruncationPolicy>((string)n["truncation"]!),
        AddBos = (bool)n["addBos"]!, BatchSize = (int)n["batchSize"]!, ScoreColumnName = (string)n["scoreColumnName"]!,
        PredictedLabelColumnName = (string)n["predictedLabelColumnName"]!, MaxChoices = (int)n["maxChoices"]!,
    };
}

/// <summary>Estimator of <see cref="JambaClassifyingTransformer"/> (zero-/few-shot classification by label likelihood).</summary>
public sealed class JambaClassifyingEstimator : JambaEstimatorBase<JambaClassifyingTransformer>
{
    private readonly JambaModel model;
    private readonly string inputColumnName;
    private readonly string[]? labels;
    private readonly JambaClassifyOptions options;

    internal JambaClassifyingEstimator(JambaModel model, string inputColumnName, string[]? labels, JambaClassifyOptions options)
    {
        this.model = model;
        this.inputColumnName = inputColumnName;
        this.labels = labels;
        this.options = options;
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var c = JambaClassifyingTransformer.Component;
        SchemaChecks.Check(inputSchema, c, "input", inputColumnName, ColumnExpectation.Text);
        bool knownSize = true;
        if (options.ChoicesColumnName is string choices)
            knownSize = SchemaChecks.Check(inputSchema, c, "choices", choices, ColumnExpectation.TextVector).Kind == SchemaShape.Column.VectorKind.Vector;
        var names = labels is null ? new SchemaShape(Array.Empty<SchemaShape.Column>()) : MLNetInterop.TextVectorAnnotations("SlotNames");
        var keyNames = labels is null ? new SchemaShape(Array.Empty<SchemaShape.Column>()) : MLNetInterop.TextVectorAnnotations("KeyValues");
        return MLNetInterop.Extend(inputSchema, new[]
        {
            MLNetInterop.ShapeColumn(options.ScoreColumnName, knownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single, false, names),
            MLNetInterop.ShapeColumn(options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, keyNames),
        });
    }

    private protected override JambaClassifyingTransformer Create() => new(model, false, inputColumnName, labels, options);
}

/// <summary>
/// Zero- or few-shot classification with a causal LM: each label (or each per-row choice) is appended to the prompt
/// and scored by its likelihood. Adds <c>Score</c> (<c>Vector&lt;Single&gt;</c>, the labels' probabilities, softmax of
/// the log-likelihoods; slot names are the labels) and <c>PredictedLabel</c> (a key over the labels, so
/// <c>MapKeyToValue</c> turns it back into label text and ML.NET's multiclass evaluator reads both). Null or empty
/// text is scored as an empty prompt (BOS alone).
/// </summary>
public sealed class JambaClassifyingTransformer : JambaTransformerBase
{
    internal const string Component = "Jamba Classify";
    internal const string Kind = "Classify";

    /// <summary>The text column read.</summary>
    public string InputColumnName { get; }
    /// <summary>The fixed labels, or null when a choices column supplies them per row.</summary>
    public IReadOnlyList<string>? Labels { get; }
    /// <summary>The options (do not change after fitting).</summary>
    public JambaClassifyOptions Options { get; }

    internal JambaClassifyingTransformer(JambaModel model, bool ownsModel, string inputColumnName, string[]? labels, JambaClassifyOptions options) : base(model, ownsModel)
    {
        model.RequireTokenizer();
        if (model.CausalLM is null) throw new InvalidOperationException($"{Component} scores labels with a causal LM (JambaForCausalLM); the model is a {model.Network.GetType().Name}");
        if (labels is null && options.ChoicesColumnName is null) throw new ArgumentException($"{Component}: give labels, or set {nameof(JambaClassifyOptions.ChoicesColumnName)}", nameof(labels));
        if (labels is not null && options.ChoicesColumnName is not null) throw new ArgumentException($"{Component}: give labels or a choices column, not both", nameof(labels));
        if (labels is { Length: < 2 }) throw new ArgumentException($"{Component}: at least two labels are needed, got {labels.Length}", nameof(labels));
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1");
        if (!options.PromptTemplate.Contains("{text}", StringComparison.Ordinal)) throw new ArgumentException($"{Component}: PromptTemplate must contain {{text}}", nameof(options));
        InputColumnName = inputColumnName;
        Labels = labels;
        Options = options;
    }

    internal override string PersistenceKind => Kind;
    internal override JsonObject SaveSettings() => new()
    {
        ["input"] = InputColumnName,
        ["labels"] = Labels is null ? null : new JsonArray(Labels.Select(l => (JsonNode?)l).ToArray()),
        ["options"] = Options.ToJson(),
    };
    internal static JambaClassifyingTransformer Load(JambaModel model, bool owns, JsonObject s) =>
        new(model, owns, (string)s["input"]!, s["labels"]?.AsArray().Select(x => (string)x!).ToArray(), JambaClassifyOptions.FromJson(s["options"]));

    internal override JambaMapper Bind(DataViewSchema inputSchema)
    {
        var text = SchemaChecks.Check(inputSchema, Component, "input", InputColumnName, ColumnExpectation.Text);
        var inputs = new List<InputColumn> { new(text, ColumnReaders.Text) };
        DataViewType scoreType;
        KeyDataViewType keyType;
        DataViewSchema.Annotations? scoreAnnotations = null, keyAnnotations = null;
        if (Options.ChoicesColumnName is string choicesName)
        {
            var choices = SchemaChecks.Check(inputSchema, Component, "choices", choicesName, ColumnExpectation.TextVector);
            inputs.Add(new InputColumn(choices, ColumnReaders.TextVector));
            var v = (VectorDataViewType)choices.Type;
            scoreType = v.IsKnownSize ? new VectorDataViewType(NumberDataViewType.Single, v.Size) : new VectorDataViewType(NumberDataViewType.Single);
            keyType = new KeyDataViewType(typeof(uint), v.IsKnownSize ? v.Size : Options.MaxChoices);
        }
        else
        {
            int k = Labels!.Count;
            scoreType = new VectorDataViewType(NumberDataViewType.Single, k);
            keyType = new KeyDataViewType(typeof(uint), k);
            scoreAnnotations = LabelAnnotations.Names("SlotNames", Labels);
            keyAnnotations = LabelAnnotations.Names("KeyValues", Labels);
        }
        return new Mapper(this, inputSchema, inputs, new[]
        {
            new OutputColumn(Options.ScoreColumnName, scoreType, scoreAnnotations),
            new OutputColumn(Options.PredictedLabelColumnName, keyType, keyAnnotations),
        }, keyType.Count);
    }

    private sealed class Mapper : JambaMapper
    {
        private readonly JambaClassifyingTransformer parent;
        private readonly ulong keyCount;
        private int[][]? labelIds;

        public Mapper(JambaClassifyingTransformer parent, DataViewSchema schema, IReadOnlyList<InputColumn> inputs, OutputColumn[] outputs, ulong keyCount)
            : base(schema, inputs, outputs)
        {
            this.parent = parent;
            this.keyCount = keyCount;
        }

        public override int BatchSize => parent.Options.BatchSize;

        public override object?[][] MapBatch(IReadOnlyList<object?[]> rows)
        {
            var o = parent.Options;
            var tokenizer = parent.Model.RequireTokenizer();
            int[] EncodeChoice(string c) => tokenizer.Encode(o.ChoicePrefix + c).ToArray();
            labelIds ??= parent.Labels?.Select(EncodeChoice).ToArray();
            var prompts = new List<IReadOnlyList<int>>();
            var choices = new List<IReadOnlyList<IReadOnlyList<int>>>();
            foreach (var row in rows)
            {
                string prompt = o.PromptTemplate.Replace("{text}", (string?)row[0] ?? string.Empty, StringComparison.Ordinal);
                var ids = TextEncoding.Encode(tokenizer, prompt, o.MaxTokens, o.Truncation, o.AddBos);
                if (ids.Length == 0) throw new InvalidOperationException($"{Component}: the prompt for text '{row[0]}' has no tokens and the vocabulary has no BOS to start from");
                prompts.Add(ids);
                choices.Add(labelIds is not null ? labelIds : ((string[])row[1]!).Select(EncodeChoice).ToArray());
            }
            var scores = LabelScoring.LogLikelihoods(parent.Model.CausalLM!, prompts, choices, o.LengthNormalize);
            var probabilities = new object?[rows.Count];
            var predicted = new object?[rows.Count];
            for (int r = 0; r < rows.Count; r++)
            {
                var p = LabelScoring.Softmax(scores[r]);
                probabilities[r] = p;
                int best = p.Length == 0 ? -1 : Array.IndexOf(p, p.Max());
                // Key values are 1-based; 0 is ML.NET's missing key (no choices, or more than the key range holds).
                predicted[r] = best < 0 || (ulong)best >= keyCount ? 0u : (uint)(best + 1);
            }
            return new[] { probabilities, predicted };
        }
    }
}

/// <summary>Builds the label-name annotations ML.NET uses for slot names and key values.</summary>
internal static class LabelAnnotations
{
    public static DataViewSchema.Annotations Names(string kind, IReadOnlyList<string> names)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        var values = names.Select(n => n.AsMemory()).ToArray();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> dst) =>
            new VBuffer<ReadOnlyMemory<char>>(values.Length, values).CopyTo(ref dst);
        builder.Add(kind, new VectorDataViewType(TextDataViewType.Instance, names.Count), getter);
        return builder.ToAnnotations();
    }
}
