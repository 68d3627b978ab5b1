using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Builds the network's linears without drawing their default random weights, inside
/// a <see cref="Scope"/>: the loader and <see cref="JambaInit"/> overwrite every parameter anyway, and TorchSharp's
/// default initialisation of a 1B model's linears — a billion values drawn one at a time — took longer than reading
/// the checkpoint. Outside a scope the modules are built as TorchSharp builds them, so code that constructs a layer
/// and uses it as it is keeps its initialisation.
/// </summary>
internal static class Uninitialized
{
    [ThreadStatic] private static int depth;

    /// <summary>Whether modules built on this thread now skip their initialisation.</summary>
    public static bool Active => depth > 0;

    /// <summary>Until disposed, the modules built on this thread get uninitialised parameters.</summary>
    public static IDisposable Scope()
    {
        depth++;
        return new Exit();
    }

    private sealed class Exit : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            depth--;
        }
    }

    /// <summary>A TorchSharp <c>Linear</c>: its parameters allocated but not drawn, inside a scope.</summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool hasBias, Device? device, ScalarType dtype)
    {
        if (!Active) return nn.Linear(inFeatures, outFeatures, hasBias: hasBias, device: device, dtype: dtype);
        // Built on the meta device, where the default initialisation costs nothing, then given real storage.
        var linear = nn.Linear(inFeatures, outFeatures, hasBias: hasBias, device: META, dtype: dtype);
        linear.weight = new Parameter(empty(new[] { outFeatures, inFeatures }, dtype, device));
        if (hasBias) linear.bias = new Parameter(empty(new[] { outFeatures }, dtype, device));
        return linear;
    }

    /// <summary>
    /// A TorchSharp <c>Embedding</c> of [<paramref name="numEmbeddings"/>, <paramref name="embeddingDim"/>]: its table
    /// allocated but not drawn, inside a scope.
    /// </summary>
    public static Embedding Embedding(long numEmbeddings, long embeddingDim, long? paddingIdx, Device? device, ScalarType dtype)
    {
        if (!Active || paddingIdx < 0) return nn.Embedding(numEmbeddings, embeddingDim, padding_idx: paddingIdx, device: device, dtype: dtype);
        // TorchSharp's constructor draws the table in native code, on the CPU even for the meta device. Built with only
        // the rows up to the padding index, it draws next to nothing; the forward reads whatever table the module holds,
        // and the padding row still gets no gradient.
        long rows = paddingIdx is long pad && pad >= 0 ? Math.Min(pad + 1, numEmbeddings) : 1;
        var embedding = nn.Embedding(rows, embeddingDim, padding_idx: paddingIdx, device: device, dtype: dtype);
        embedding.weight = new Parameter(empty(new[] { numEmbeddings, embeddingDim }, dtype, device));
        return embedding;
    }
}
