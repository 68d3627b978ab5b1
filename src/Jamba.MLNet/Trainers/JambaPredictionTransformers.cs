using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Jamba.Inference;
using Jamba.MLNet.Internal;
using Jamba.MLNet.Persistence;
using Jamba.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>How a fitted Jamba predictor reads text and names its outputs (fixed at training time).</summary>
public sealed class JambaPredictionSettings
{
    /// <summary>Most tokens per text, BOS included (0: no limit).</summary>
    public int MaxTokens { get; init; } = 128;
    /// <summary>Which tokens survive truncation.</summary>
    public TruncationPolicy Truncation { get; init; } = TruncationPolicy.KeepStart;
    /// <summary>Texts start with BOS.</summary>
    public bool AddBos { get; init; } = true;
    /// <summary>Rows per forward pass.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Score column name.</summary>
    [JsonPropertyName("score")]
    public string ScoreColumnName { get; init; } = "Score";
    /// <summary>Predicted-label column name.</summary>
    [JsonPropertyName("predictedLabel")]
    public string PredictedLabelColumnName { get; init; } = "PredictedLabel";
    /// <summary>Probability column name (binary).</summary>
    [JsonPropertyName("probability")]
    public string ProbabilityColumnName { get; init; } = "Probability";

    internal static JambaPredictionSettings From(JambaTrainerOptions o) => new()
    {
        MaxTokens = o.MaxTokens, Truncation = o.Truncation, AddBos = o.AddBos, BatchSize = Math.Max(1, o.PredictionBatchSize),
        ScoreColumnName = o.ScoreColumnName, PredictedLabelColumnName = o.PredictedLabelColumnName, ProbabilityColumnName = o.ProbabilityColumnName,
    };
}

/// <summary>
/// Base of the transformers the Jamba trainers produce: they own a fine-tuned classifier (dispose to free it), read
/// one text column and add ML.NET's standard prediction columns. Null or empty text is scored as BOS alone.
/// </summary>
public abstract class JambaPredictionTransformerBase : JambaTransformerBase
{
    private protected JambaPredictionTransformerBase(JambaModel model, bool ownsModel, string textColumnName, JambaPredictionSettings settings) : base(model, ownsModel)
    {
        if (model.Classifier is null) throw new ArgumentException($"a fitted Jamba predictor needs a sequence classifier; got {model.Network.GetType().Name}", nameof(model));
        TextColumnName = textColumnName;
        Settings = settings;
    }

    /// <summary>The text column read.</summary>
    public string TextColumnName { get; }
    /// <summary>How text is read and outputs named.</summary>
    public JambaPredictionSettings Settings { get; }

    /// <summary>Turns raw head outputs [row][output] into values per output column.</summary>
    private protected abstract object?[][] Convert(float[][] raw);

    private protected sealed override IReadOnlyList<ColumnRequirement> InputColumns => [new("text", TextColumnName, ColumnExpectation.Text)];
    private protected sealed override int BatchSize => Settings.BatchSize;
    private protected sealed override object?[][] MapBatch(IReadOnlyList<object?[]> rows, IReadOnlyList<OutputColumn> outputs)
        => Convert(Raw(rows.Select(r => (string?)r[0]).ToList()));

    /// <summary>What a saved pipeline records: the text column and settings, plus what the kind of predictor needs.</summary>
    private protected sealed record Saved(string Text, JambaPredictionSettings Settings,
        int? Classes = null, string[]? Labels = null, float? TargetMean = null, float? TargetScale = null);

    private protected Saved BaseSettings => new(TextColumnName, Settings);

    /// <summary>Raw head outputs for texts (for callers outside a data view).</summary>
    internal float[][] Raw(IReadOnlyList<string?> texts)
    {
        var tokenizer = Model.RequireTokenizer();
        var ids = texts.Select(t =>
        {
            var e = TextEncoding.Encode(tokenizer, t, Settings.MaxTokens, Settings.Truncation, Settings.AddBos);
            return (IReadOnlyList<int>)(e.Length == 0 ? new[] { Model.Config.PadTokenId ?? 0 } : e);
        }).ToList();
        return SequenceClassificationFineTuner.Predict(Model.Classifier!, ids);
    }
}

/// <summary>
/// A fine-tuned Jamba multiclass classifier. Adds <c>Score</c> (<c>Vector&lt;Single, classes&gt;</c>, class
/// probabilities, slot names = the label's key values) and <c>PredictedLabel</c> (the label's key type with its key
/// values, so MapKeyToValue restores the label text), as ML.NET's multiclass trainers do.
/// </summary>
public sealed class JambaMulticlassTransformer : JambaPredictionTransformerBase
{
    internal const string Kind = "MulticlassPredictor";

    internal JambaMulticlassTransformer(JambaModel model, bool ownsModel, string textColumnName, JambaPredictionSettings settings, int classCount, string[]? labelNames)
        : base(model, ownsModel, textColumnName, settings)
    {
        ClassCount = classCount;
        LabelNames = labelNames;
    }

    /// <summary>Number of classes (the label key's count).</summary>
    public int ClassCount { get; }
    /// <summary>The label's key values as text, when the label had them.</summary>
    public IReadOnlyList<string>? LabelNames { get; }

    private protected override string Component => "Jamba multiclass predictor";
    internal override string PersistenceKind => Kind;

    internal override JsonObject SaveSettings() => JambaSettingsJson.Write(BaseSettings with { Classes = ClassCount, Labels = LabelNames?.ToArray() });

    internal static JambaMulticlassTransformer Load(JambaModel model, bool owns, JsonObject settings)
    {
        var s = JambaSettingsJson.Read<Saved>(settings, Kind);
        return new(model, owns, s.Text, s.Settings, s.Classes ?? throw new InvalidDataException($"the saved {Kind} step has no class count"), s.Labels);
    }

    private protected override IReadOnlyList<OutputColumn> OutputColumns(IReadOnlyList<DataViewSchema.Column> inputs) => new[]
    {
        new OutputColumn(Settings.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, ClassCount),
            LabelNames is { Count: > 0 } n && n.Count == ClassCount ? LabelAnnotations.Names("SlotNames", n) : null),
        new OutputColumn(Settings.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), ClassCount),
            LabelNames is { Count: > 0 } k && k.Count == ClassCount ? LabelAnnotations.Names("KeyValues", k) : null),
    };

    private protected override object?[][] Convert(float[][] raw)
    {
        var scores = new object?[raw.Length];
        var predicted = new object?[raw.Length];
        for (int r = 0; r < raw.Length; r++)
        {
            var p = LabelScoring.Softmax(raw[r].Select(v => (double)v).ToArray());
            scores[r] = p;
            predicted[r] = (uint)(Array.IndexOf(p, p.Max()) + 1);
        }
        return new[] { scores, predicted };
    }
}

/// <summary>
/// A fine-tuned Jamba binary classifier. Adds <c>Score</c> (Single, the logit margin), <c>Probability</c> (Single,
/// sigmoid of the score) and <c>PredictedLabel</c> (Boolean, probability above 0.5), as ML.NET's calibrated binary
/// trainers do.
/// </summary>
public sealed class JambaBinaryTransformer : JambaPredictionTransformerBase
{
    internal const string Kind = "BinaryPredictor";

    internal JambaBinaryTransformer(JambaModel model, bool ownsModel, string textColumnName, JambaPredictionSettings settings)
        : base(model, ownsModel, textColumnName, settings) { }

    private protected override string Component => "Jamba binary predictor";
    internal override string PersistenceKind => Kind;
    internal override JsonObject SaveSettings() => JambaSettingsJson.Write(BaseSettings);

    internal static JambaBinaryTransformer Load(JambaModel model, bool owns, JsonObject settings)
    {
        var s = JambaSettingsJson.Read<Saved>(settings, Kind);
        return new(model, owns, s.Text, s.Settings);
    }

    private protected override IReadOnlyList<OutputColumn> OutputColumns(IReadOnlyList<DataViewSchema.Column> inputs) => new[]
    {
        new OutputColumn(Settings.ScoreColumnName, NumberDataViewType.Single),
        new OutputColumn(Settings.ProbabilityColumnName, NumberDataViewType.Single),
        new OutputColumn(Settings.PredictedLabelColumnName, BooleanDataViewType.Instance),
    };

    private protected override object?[][] Convert(float[][] raw)
    {
        var score = new object?[raw.Length];
        var probability = new object?[raw.Length];
        var predicted = new object?[raw.Length];
        for (int r = 0; r < raw.Length; r++)
        {
            float margin = raw[r][1] - raw[r][0];
            float p = 1f / (1f + MathF.Exp(-margin));
            score[r] = margin;
            probability[r] = p;
            predicted[r] = p > 0.5f;
        }
        return new[] { score, probability, predicted };
    }
}

/// <summary>A fine-tuned Jamba regressor. Adds <c>Score</c> (Single, the predicted value in the label's units).</summary>
public sealed class JambaRegressionTransformer : JambaPredictionTransformerBase
{
    internal const string Kind = "RegressionPredictor";

    internal JambaRegressionTransformer(JambaModel model, bool ownsModel, string textColumnName, JambaPredictionSettings settings, float targetMean, float targetScale)
        : base(model, ownsModel, textColumnName, settings)
    {
        TargetMean = targetMean;
        TargetScale = targetScale;
    }

    /// <summary>Training targets' mean; the head predicts standardised targets.</summary>
    public float TargetMean { get; }
    /// <summary>Training targets' standard deviation.</summary>
    public float TargetScale { get; }

    private protected override string Component => "Jamba regression predictor";
    internal override string PersistenceKind => Kind;

    internal override JsonObject SaveSettings() => JambaSettingsJson.Write(BaseSettings with { TargetMean = TargetMean, TargetScale = TargetScale });

    internal static JambaRegressionTransformer Load(JambaModel model, bool owns, JsonObject settings)
    {
        var s = JambaSettingsJson.Read<Saved>(settings, Kind);
        if (s.TargetMean is not float mean || s.TargetScale is not float scale) throw new InvalidDataException($"the saved {Kind} step has no target mean and scale");
        return new(model, owns, s.Text, s.Settings, mean, scale);
    }

    private protected override IReadOnlyList<OutputColumn> OutputColumns(IReadOnlyList<DataViewSchema.Column> inputs) => new[] { new OutputColumn(Settings.ScoreColumnName, NumberDataViewType.Single) };

    private protected override object?[][] Convert(float[][] raw) =>
        new[] { raw.Select(r => (object?)(r[0] * TargetScale + TargetMean)).ToArray() };
}
