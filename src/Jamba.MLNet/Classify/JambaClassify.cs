using System.Text.Json.Nodes;
using Jamba.Inference;
using Jamba.MLNet.Internal;
using Jamba.MLNet.Persistence;
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
    internal const string Kind = "Classify";
    private int[][]? labelIds;

    internal JambaClassifyingTransformer(JambaModel model, bool ownsModel, string inputColumnName, string[]? labels, JambaClassifyOptions options) : base(model, ownsModel)
    {
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

    /// <summary>The text column read.</summary>
    public string InputColumnName { get; }
    /// <summary>The fixed labels, or null when a choices column supplies them per row.</summary>
    public IReadOnlyList<string>? Labels { get; }
    /// <summary>The options (do not change after fitting).</summary>
    public JambaClassifyOptions Options { get; }

    private protected override string Component => "Jamba Classify";
    internal override string PersistenceKind => Kind;
    private protected override int BatchSize => Options.BatchSize;

    internal override JsonObject SaveSettings() => JambaSettingsJson.Write(new Saved(InputColumnName, Labels?.ToArray(), Options));

    internal static JambaClassifyingTransformer Load(JambaModel model, bool owns, JsonObject settings)
    {
        var saved = JambaSettingsJson.Read<Saved>(settings, Kind);
        return new(model, owns, saved.Input, saved.Labels, saved.Options);
    }

    /// <summary>What a saved pipeline records: <c>{"input", "labels", "options"}</c>.</summary>
    private sealed record Saved(string Input, string[]? Labels, JambaClassifyOptions Options);

    private protected override IReadOnlyList<ColumnRequirement> InputColumns => Options.ChoicesColumnName is string choices
        ? [new("input", InputColumnName, ColumnExpectation.Text), new("choices", choices, ColumnExpectation.TextVector)]
        : [new("input", InputColumnName, ColumnExpectation.Text)];

    private protected override IReadOnlyList<OutputColumn> OutputColumns(IReadOnlyList<DataViewSchema.Column> inputs)
    {
        if (Labels is not null)
        {
            int k = Labels.Count;
            return
            [
                new(Options.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, k), LabelAnnotations.Names("SlotNames", Labels)),
                new(Options.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), k), LabelAnnotations.Names("KeyValues", Labels)),
            ];
        }
        var choices = (VectorDataViewType)inputs[1].Type;
        return
        [
            new(Options.ScoreColumnName, choices.IsKnownSize ? new VectorDataViewType(NumberDataViewType.Single, choices.Size) : new VectorDataViewType(NumberDataViewType.Single)),
            new(Options.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), choices.IsKnownSize ? choices.Size : Options.MaxChoices)),
        ];
    }

    /// <summary>With a choices column the estimator knows only whether its size is fixed, which decides the score's shape.</summary>
    private protected override IEnumerable<SchemaShape.Column> OutputShape(IReadOnlyList<SchemaShape.Column> inputs)
    {
        if (Labels is not null) return base.OutputShape(inputs);
        var scoreKind = inputs[1].Kind == SchemaShape.Column.VectorKind.Vector ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector;
        return
        [
            MLNetInterop.ShapeColumn(Options.ScoreColumnName, scoreKind, NumberDataViewType.Single, false),
            MLNetInterop.ShapeColumn(Options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true),
        ];
    }

    private protected override object?[][] MapBatch(IReadOnlyList<object?[]> rows, IReadOnlyList<OutputColumn> outputs)
    {
        var o = Options;
        var tokenizer = Model.RequireTokenizer();
        int[] EncodeChoice(string c) => tokenizer.Encode(o.ChoicePrefix + c).ToArray();
        labelIds ??= Labels?.Select(EncodeChoice).ToArray();
        ulong keyCount = ((KeyDataViewType)outputs[1].Type).Count;
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
        var scores = LabelScoring.LogLikelihoods(Model.CausalLM!, prompts, choices, o.LengthNormalize);
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
        return [probabilities, predicted];
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
