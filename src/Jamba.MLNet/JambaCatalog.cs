using Jamba;
using Jamba.MLNet;
using Jamba.MLNet.Internal;
using Jamba.MLNet.Persistence;

namespace Microsoft.ML;

/// <summary>
/// Entry points of Jamba in ML.NET, in the <c>Microsoft.ML</c> namespace like ML.NET's own extension packages, so
/// <c>using Microsoft.ML;</c> is enough: <c>ml.Transforms.Jamba()</c> and the <c>Jamba</c> trainers of the
/// multiclass, binary and regression catalogs.
/// </summary>
public static class JambaCatalog
{
    /// <summary>The Jamba transforms (Tokenize, Embed, Generate, Classify) and the language-model evaluator.</summary>
    public static JambaTransformsCatalog Jamba(this TransformsCatalog catalog)
        => new(MLNetInterop.GetEnvironment(catalog ?? throw new ArgumentNullException(nameof(catalog))));

    /// <summary>
    /// Fine-tunes <paramref name="model"/> (a copy) as a multiclass classifier of <paramref name="textColumnName"/>.
    /// The label must be a key (MapValueToKey). Outputs <c>Score</c> (class probabilities) and <c>PredictedLabel</c> (key).
    /// </summary>
    public static JambaMulticlassTrainer Jamba(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, JambaModel model,
        string labelColumnName = "Label", string textColumnName = "Text", JambaTrainerOptions? options = null)
        => new(MLNetInterop.GetEnvironment(catalog), model, labelColumnName, textColumnName, options);

    /// <summary>
    /// Fine-tunes <paramref name="model"/> (a copy) as a binary classifier of <paramref name="textColumnName"/>.
    /// The label must be Boolean. Outputs <c>Score</c>, <c>Probability</c> and <c>PredictedLabel</c> (Boolean).
    /// </summary>
    public static JambaBinaryTrainer Jamba(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, JambaModel model,
        string labelColumnName = "Label", string textColumnName = "Text", JambaTrainerOptions? options = null)
        => new(MLNetInterop.GetEnvironment(catalog), model, labelColumnName, textColumnName, options);

    /// <summary>
    /// Fine-tunes <paramref name="model"/> (a copy) as a regressor of <paramref name="textColumnName"/>.
    /// The label must be Single. Outputs <c>Score</c>.
    /// </summary>
    public static JambaRegressionTrainer Jamba(this RegressionCatalog.RegressionTrainers catalog, JambaModel model,
        string labelColumnName = "Label", string textColumnName = "Text", JambaTrainerOptions? options = null)
        => new(MLNetInterop.GetEnvironment(catalog), model, labelColumnName, textColumnName, options);

    /// <summary>
    /// Asks running training to stop: Jamba trainers throw <see cref="OperationCanceledException"/> at their next step,
    /// and ML.NET's own components see the same flag. (Microsoft.ML 6 keeps MLContext.CancelExecution non-public;
    /// this extension makes <c>ml.CancelExecution()</c> callable.)
    /// </summary>
    public static void CancelExecution(this MLContext ml) => MLNetInterop.CancelExecution(ml ?? throw new ArgumentNullException(nameof(ml)));
}

/// <summary>
/// Saving and loading fitted pipelines that contain Jamba transformers as one file (see docs/mlnet.md). ML.NET's own
/// ml.Model.Save refuses such pipelines with a message pointing here, because ML.NET keeps the API that would let a
/// transformer store its weights internal to its own assemblies.
/// </summary>
public static class JambaModelOperationsExtensions
{
    /// <summary>
    /// Saves <paramref name="model"/> (any fitted ITransformer or TransformerChain, with or without Jamba parts) and
    /// the schema of its input to ONE file: ML.NET parts saved by ML.NET, Jamba weights as safetensors, a manifest with
    /// SHA-256 digests. The file is written beside <paramref name="path"/> and renamed into place.
    /// </summary>
    public static void SaveJamba(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string path)
        => JambaModelFile.Save(catalog ?? throw new ArgumentNullException(nameof(catalog)), model, inputSchema, path);

    /// <summary>
    /// Loads a file written by <see cref="SaveJamba"/>: returns the pipeline (a TransformerChain; dispose it to free the
    /// Jamba weights) and its input schema. Models go to <paramref name="options"/>' device and dtype, else to
    /// <c>cuda:{MLContext.GpuDeviceId}</c> when set, else the CPU. A damaged or truncated file raises
    /// <see cref="InvalidDataException"/> naming the file and the problem.
    /// </summary>
    public static ITransformer LoadJamba(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema, JambaModelOptions? options = null)
        => JambaModelFile.Load(catalog ?? throw new ArgumentNullException(nameof(catalog)), path, out inputSchema,
            options ?? new JambaModelOptions { Device = MLNetInterop.DeviceFromContext(MLNetInterop.GetEnvironment(catalog), "LoadJamba") ?? "cpu" });
}
