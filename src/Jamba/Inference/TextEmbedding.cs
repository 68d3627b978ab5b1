using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Inference;

/// <summary>How token states become one vector per text.</summary>
public enum EmbeddingPooling
{
    /// <summary>Average of the final hidden states of the real (non-pad) tokens.</summary>
    Mean,
    /// <summary>The final hidden state of the last real token; for a causal model it has seen the whole text.</summary>
    LastToken,
}

/// <summary>
/// Sentence embeddings from the decoder stack: one float vector of <c>hidden_size</c> per id sequence, computed
/// for left-padded batches with the attention mask so that padding never changes a row's vector.
/// </summary>
public static class TextEmbedding
{
    /// <summary>
    /// Embeds each row of <paramref name="rows"/> (ids; an empty row gives a zero vector). The rows are run as one
    /// left-padded batch without gradients; every intermediate tensor is freed before returning.
    /// </summary>
    /// <param name="backbone">The decoder stack (its device is used).</param>
    /// <param name="rows">Token ids per text.</param>
    /// <param name="pooling">Mean over real tokens or the last real token.</param>
    /// <param name="normalize">Scale each vector to unit L2 norm (cosine similarity becomes a dot product).</param>
    public static float[][] Embed(JambaBackbone backbone, IReadOnlyList<IReadOnlyList<int>> rows, EmbeddingPooling pooling, bool normalize = false)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(rows);
        int hidden = backbone.Config.HiddenSize;
        var result = new float[rows.Count][];
        var nonEmpty = Enumerable.Range(0, rows.Count).Where(i => rows[i].Count > 0).ToArray();
        foreach (int i in Enumerable.Range(0, rows.Count).Except(nonEmpty)) result[i] = new float[hidden];
        if (nonEmpty.Length == 0) return result;

        var device = backbone.embed_tokens.weight!.device;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = backbone.training;
        if (wasTraining) backbone.eval();
        try
        {
            var batch = nonEmpty.Select(i => rows[i]).ToList();
            var (ids, mask) = TextEncoding.LeftPad(batch, backbone.Config.PadTokenId ?? 0, device);
            bool padded = batch.Any(r => r.Count != ids.size(1));
            using var output = backbone.Forward(ids, padded ? mask : null);
            var h = output.LastHiddenState.to_type(ScalarType.Float32);
            Tensor pooled;
            if (pooling == EmbeddingPooling.LastToken)
                pooled = h.select(1, h.size(1) - 1);
            else
            {
                var m = mask.to_type(ScalarType.Float32).unsqueeze(-1);
                pooled = (h * m).sum(1) / m.sum(1).clamp_min(1f);
            }
            if (normalize) pooled = nn.functional.normalize(pooled, p: 2, dim: -1);
            var flat = pooled.cpu().contiguous().data<float>().ToArray();
            for (int k = 0; k < nonEmpty.Length; k++)
                result[nonEmpty[k]] = flat.AsSpan(k * hidden, hidden).ToArray();
            return result;
        }
        finally
        {
            if (wasTraining) backbone.train();
        }
    }
}
