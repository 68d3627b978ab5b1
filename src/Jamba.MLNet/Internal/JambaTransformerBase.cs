using System.Text.Json.Nodes;
using Jamba.MLNet.Internal;
using Jamba.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>
/// Common behaviour of every Jamba transformer: lazy, batched <see cref="Transform"/>, row-to-row mapping (so
/// <see cref="PredictionEngine{TSrc,TDst}"/> works), schema validation in <see cref="GetOutputSchema"/>, and
/// persistence through <see cref="JambaModelOperationsExtensions.SaveJamba"/> only.
/// </summary>
public abstract class JambaTransformerBase : ITransformer, IDisposable
{
    private readonly bool ownsModel;
    private bool disposed;

    private protected JambaTransformerBase(JambaModel model, bool ownsModel)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        this.ownsModel = ownsModel;
    }

    /// <summary>
    /// The Jamba model this transformer runs. Transforms share the model they were given (the caller keeps owning it);
    /// trainers' transformers and loaded pipelines own theirs and free it on <see cref="Dispose"/>.
    /// </summary>
    public JambaModel Model { get; }

    /// <summary>Always true: every Jamba transformer maps rows one to one.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus this transformer's columns; throws when an input column is missing or of the wrong type.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return Bind(inputSchema).OutputSchema;
    }

    /// <summary>
    /// A lazy view over <paramref name="input"/>: nothing is computed until it is read, then rows are read and scored in
    /// batches (each batch's tensors freed before the next), so any number of rows streams in flat memory.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ThrowIfDisposed();
        return new JambaDataView(input, Bind(input.Schema));
    }

    /// <summary>Row-at-a-time mapping (used by PredictionEngine); create one engine per thread.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ThrowIfDisposed();
        return new JambaRowToRowMapper(Bind(inputSchema));
    }

    /// <summary>
    /// ML.NET's own saving cannot hold Jamba weights (its model-writing API is internal to ML.NET), so this refuses
    /// with a message pointing at <c>ml.Model.SaveJamba</c> and removes the half-written file where the platform allows.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw JambaModelFile.RefusePlainSave(this, ctx);

    /// <summary>Frees the model when this transformer owns it.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (ownsModel) Model.Dispose();
        GC.SuppressFinalize(this);
    }

    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    internal abstract JambaMapper Bind(DataViewSchema inputSchema);

    /// <summary>The name a saved pipeline records for this transformer kind.</summary>
    internal abstract string PersistenceKind { get; }

    /// <summary>The settings a saved pipeline records (column names and options, not the model).</summary>
    internal abstract JsonObject SaveSettings();
}
