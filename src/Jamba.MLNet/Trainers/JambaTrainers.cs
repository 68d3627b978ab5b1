using System.Text.Json.Nodes;
using Jamba.Inference;
using Jamba.MLNet.Internal;
using Jamba.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Jamba.MLNet;

/// <summary>
/// Base of the Jamba fine-tuning trainers. <see cref="Fit"/> tokenizes the training (and validation) rows, fine-tunes a
/// copy of the given model with a sequence-classification head, and returns a transformer that owns the copy; the
/// given model is never modified. Training rows are held as token ids (the data view is read once).
/// </summary>
/// <typeparam name="TTransformer">The fitted transformer.</typeparam>
public abstract class JambaTrainerBase<TTransformer> : IEstimator<TTransformer> where TTransformer : JambaPredictionTransformerBase
{
    private readonly IHostEnvironment env;

    private protected JambaTrainerBase(IHostEnvironment env, FineTuneObjective objective, JambaModel model, string labelColumnName, string textColumnName, JambaTrainerOptions? options)
    {
        Objective = objective;
        this.env = env ?? throw new ArgumentNullException(nameof(env));
        Model = model ?? throw new ArgumentNullException(nameof(model));
        model.RequireTokenizer();
        LabelColumnName = labelColumnName ?? throw new ArgumentNullException(nameof(labelColumnName));
        TextColumnName = textColumnName ?? throw new ArgumentNullException(nameof(textColumnName));
        Options = options ?? new JambaTrainerOptions();
    }

    /// <summary>The model fine-tuned (a copy is trained; this one is left as it is).</summary>
    public JambaModel Model { get; }
    /// <summary>The label column.</summary>
    public string LabelColumnName { get; }
    /// <summary>The text column.</summary>
    public string TextColumnName { get; }
    /// <summary>The options.</summary>
    public JambaTrainerOptions Options { get; }

    private protected FineTuneObjective Objective { get; }
    private protected string Component => $"Jamba {Objective.ToString().ToLowerInvariant()} trainer";
    private protected ColumnExpectation LabelExpectation => Objective switch
    {
        FineTuneObjective.Multiclass => ColumnExpectation.Key,
        FineTuneObjective.Binary => ColumnExpectation.Boolean,
        _ => ColumnExpectation.Single,
    };

    /// <summary>Reads a label value; null skips the row (a missing key, a NaN target), as ML.NET trainers do.</summary>
    private protected abstract Func<float?> LabelReader(DataViewRow row, DataViewSchema.Column column);

    /// <summary>A label reader that reads a <typeparamref name="T"/> and converts it (null skips the row).</summary>
    private protected static Func<float?> ReadLabel<T>(DataViewRow row, DataViewSchema.Column column, Func<T, float?> convert)
    {
        var getter = row.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            getter(ref value);
            return convert(value);
        };
    }

    private protected abstract TTransformer CreateTransformer(FineTuneResult result, DataViewSchema.Column label);

    private protected abstract IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column label);

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.Check(inputSchema, Component, "text", TextColumnName, ColumnExpectation.Text);
        var label = SchemaChecks.Check(inputSchema, Component, "label", LabelColumnName, LabelExpectation);
        return MLNetInterop.Extend(inputSchema, OutputShape(label));
    }

    /// <summary>Fine-tunes and returns the fitted transformer (which owns its weights; dispose it to free them).</summary>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var host = env.Register("Jamba." + Objective);
        int seed = Options.Seed ?? host.Rand.Next();
        var text = SchemaChecks.Check(input.Schema, Component, "text", TextColumnName, ColumnExpectation.Text);
        var label = SchemaChecks.Check(input.Schema, Component, "label", LabelColumnName, LabelExpectation);
        int classes = Objective == FineTuneObjective.Multiclass ? checked((int)((KeyDataViewType)label.Type).Count) : 2;
        var train = Read(input, "training");
        List<FineTuneExample>? validation = null;
        if (Options.ValidationSet is IDataView v)
        {
            SchemaChecks.Check(v.Schema, Component, "validation text", TextColumnName, ColumnExpectation.Text);
            SchemaChecks.Check(v.Schema, Component, "validation label", LabelColumnName, LabelExpectation);
            validation = Read(v, "validation");
        }
        if (train.Count == 0) throw new InvalidOperationException($"{Component}: the training data has no rows with a label in column '{LabelColumnName}'");

        using var ch = host.Start(Component);
        string? device = ResolveDevice(ch);
        ch.Info(MessageSensitivity.None, $"{Component}: fine-tuning on {train.Count} rows{(validation is null ? "" : $" ({validation.Count} validation rows)")}, " +
            $"{Options.Epochs} epochs, batch {Options.BatchSize}, lr {Options.LearningRate:G3}, device {device ?? Model.Device.ToString()}, seed {seed}");
        var result = SequenceClassificationFineTuner.Train(Model, Objective, classes, train, validation, Options.ToLibrary(seed, device),
            p => ch.Info(MessageSensitivity.None, Describe(p)), () => MLNetInterop.IsCanceled(env), Options.CancellationToken,
            Objective == FineTuneObjective.Multiclass ? KeyNames(label) : null);
        ch.Info(MessageSensitivity.None, $"{Component}: done after {result.EpochsRun} epochs; kept epoch {result.BestEpoch}" +
            (result.BestValidationLoss is double l ? $" (validation loss {l:F4})" : ""));
        return CreateTransformer(result, label);

        List<FineTuneExample> Read(IDataView data, string what)
        {
            var tokenizer = Model.RequireTokenizer();
            var textColumn = data.Schema[TextColumnName];
            var labelColumn = data.Schema[LabelColumnName];
            var examples = new List<FineTuneExample>();
            using var cursor = data.GetRowCursor(new[] { textColumn, labelColumn });
            var readText = ColumnReaders.Text(cursor, textColumn);
            var readLabel = LabelReader(cursor, labelColumn);
            while (cursor.MoveNext())
            {
                if (MLNetInterop.IsCanceled(env)) throw new OperationCanceledException($"{Component}: cancelled while reading the {what} data");
                if (readLabel() is not float y) continue;
                var ids = TextEncoding.Encode(tokenizer, (string?)readText(), Options.MaxTokens, Options.Truncation, Options.AddBos);
                if (ids.Length == 0) ids = new[] { Model.Config.PadTokenId ?? 0 };
                examples.Add(new FineTuneExample(ids, y));
            }
            return examples;
        }
    }

    private string Describe(FineTuneProgress p)
    {
        string head = $"{Component}: epoch {p.Epoch}/{Options.Epochs} step {p.Step}/{p.TotalSteps}";
        string body = double.IsNaN(p.Loss) ? "" : $" loss {p.Loss:F4}";
        body += $" lr {p.LearningRate:E2}" + (double.IsNaN(p.TokensPerSecond) ? "" : $" tokens/s {p.TokensPerSecond:F0}");
        if (p.ValidationLoss is double vl) body += $" validation loss {vl:F4}";
        if (p.ValidationAccuracy is double va) body += $" validation accuracy {va:F4}";
        return head + (p.EndOfEpoch ? " (end of epoch)" : "") + body;
    }

    private string? ResolveDevice(IChannel ch)
    {
        if (Options.Device is string d) return d;
        string? device = MLNetInterop.DeviceFromContext(env, Component);
        if (device == "cpu") ch.Warning(MessageSensitivity.None, $"{Component}: MLContext.GpuDeviceId is set but CUDA is not available; training on the CPU (FallbackToCpu)");
        return device;
    }

    private protected static string[]? KeyNames(DataViewSchema.Column column)
    {
        var kv = column.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (kv is null || kv.Value.Type is not VectorDataViewType { ItemType: var item }) return null;
        int count = checked((int)((KeyDataViewType)column.Type).Count);
        if (item is TextDataViewType)
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            column.Annotations.GetValue("KeyValues", ref names);
            return names.DenseValues().Select(m => m.ToString()).Take(count).ToArray();
        }
        // Non-text key values (numbers from MapValueToKey on a numeric label) are kept as their text form.
        var getter = typeof(JambaTrainerBase<TTransformer>).GetMethod(nameof(KeyValuesAsText), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(item.RawType);
        return (string[]?)getter.Invoke(null, new object[] { column });
    }

    private static string[] KeyValuesAsText<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.Annotations.GetValue("KeyValues", ref values);
        return values.DenseValues().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
    }
}

/// <summary>Fine-tunes Jamba for multiclass classification: a key label (use MapValueToKey) and a text column.</summary>
public sealed class JambaMulticlassTrainer : JambaTrainerBase<JambaMulticlassTransformer>
{
    internal JambaMulticlassTrainer(IHostEnvironment env, JambaModel model, string labelColumnName, string textColumnName, JambaTrainerOptions? options)
        : base(env, FineTuneObjective.Multiclass, model, labelColumnName, textColumnName, options) { }

    private protected override Func<float?> LabelReader(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(column), $"{Component}: label column '{column.Name}' has the wrong type: expected Key<UInt32>, found {MLNetInterop.Describe(column.Type)}");
        return ReadLabel<uint>(row, column, key => key == 0 ? null : key - 1);
    }

    private protected override IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column label) => new[]
    {
        MLNetInterop.ShapeColumn(Options.ScoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, MLNetInterop.TextVectorAnnotations("SlotNames")),
        MLNetInterop.ShapeColumn(Options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, label.ItemType, true, label.Annotations),
    };

    private protected override JambaMulticlassTransformer CreateTransformer(FineTuneResult result, DataViewSchema.Column label) =>
        new(result.Model, true, TextColumnName, JambaPredictionSettings.From(Options),
            checked((int)((KeyDataViewType)label.Type).Count), KeyNames(label));
}

/// <summary>Fine-tunes Jamba for binary classification: a Boolean label and a text column.</summary>
public sealed class JambaBinaryTrainer : JambaTrainerBase<JambaBinaryTransformer>
{
    internal JambaBinaryTrainer(IHostEnvironment env, JambaModel model, string labelColumnName, string textColumnName, JambaTrainerOptions? options)
        : base(env, FineTuneObjective.Binary, model, labelColumnName, textColumnName, options) { }

    private protected override Func<float?> LabelReader(DataViewRow row, DataViewSchema.Column column) =>
        ReadLabel<bool>(row, column, value => value ? 1f : 0f);

    private protected override IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column label) => new[]
    {
        MLNetInterop.ShapeColumn(Options.ScoreColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false),
        MLNetInterop.ShapeColumn(Options.ProbabilityColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false),
        MLNetInterop.ShapeColumn(Options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false),
    };

    private protected override JambaBinaryTransformer CreateTransformer(FineTuneResult result, DataViewSchema.Column label) =>
        new(result.Model, true, TextColumnName, JambaPredictionSettings.From(Options));
}

/// <summary>Fine-tunes Jamba for regression: a Single label and a text column.</summary>
public sealed class JambaRegressionTrainer : JambaTrainerBase<JambaRegressionTransformer>
{
    internal JambaRegressionTrainer(IHostEnvironment env, JambaModel model, string labelColumnName, string textColumnName, JambaTrainerOptions? options)
        : base(env, FineTuneObjective.Regression, model, labelColumnName, textColumnName, options) { }

    private protected override Func<float?> LabelReader(DataViewRow row, DataViewSchema.Column column) =>
        ReadLabel<float>(row, column, value => float.IsFinite(value) ? value : null);

    private protected override IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column label) => new[]
    {
        MLNetInterop.ShapeColumn(Options.ScoreColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false),
    };

    private protected override JambaRegressionTransformer CreateTransformer(FineTuneResult result, DataViewSchema.Column label) =>
        new(result.Model, true, TextColumnName, JambaPredictionSettings.From(Options), result.TargetMean, result.TargetScale);
}
