using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Inference;

/// <summary>Summed next-token negative log-likelihood of one sequence and how many tokens it covers.</summary>
/// <param name="NegativeLogLikelihood">Σ −ln p(token | earlier tokens) over predicted tokens, in nats.</param>
/// <param name="TokenCount">Number of predicted tokens (every token but the first).</param>
public readonly record struct SequenceLoss(double NegativeLogLikelihood, long TokenCount);

/// <summary>Per-sequence language-model cross-entropy, the quantity behind perplexity and bits per token.</summary>
public static class LanguageModelScoring
{
    /// <summary>
    /// Scores each id row as one left-padded batch without gradients. Every token except a row's first is predicted
    /// from the ones before it (start rows with BOS so the first text token counts too); rows of fewer than two ids
    /// contribute nothing.
    /// </summary>
    public static SequenceLoss[] Score(JambaForCausalLM lm, IReadOnlyList<IReadOnlyList<int>> rows) =>
        ScoreRows(lm, rows, predictions: false).Select(r => r.Loss).ToArray();

    /// <summary>
    /// <see cref="Score"/>, and each row's most likely token at every predicted position (its last
    /// <see cref="SequenceLoss.TokenCount"/> positions; empty for rows of fewer than two ids), from the same forward pass:
    /// what top-1 agreement between two precisions of a model compares.
    /// </summary>
    public static (SequenceLoss Loss, int[] Top1)[] ScoreWithPredictions(JambaForCausalLM lm, IReadOnlyList<IReadOnlyList<int>> rows) =>
        ScoreRows(lm, rows, predictions: true);

    private static (SequenceLoss Loss, int[] Top1)[] ScoreRows(JambaForCausalLM lm, IReadOnlyList<IReadOnlyList<int>> rows, bool predictions)
    {
        ArgumentNullException.ThrowIfNull(lm);
        var result = new (SequenceLoss Loss, int[] Top1)[rows.Count];
        for (int i = 0; i < rows.Count; i++) result[i] = (default, Array.Empty<int>());
        var used = Enumerable.Range(0, rows.Count).Where(i => rows[i].Count >= 2).ToArray();
        if (used.Length == 0) return result;
        var device = lm.Device;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var batch = used.Select(i => rows[i]).ToList();
        var (ids, mask) = TextEncoding.LeftPad(batch, lm.Config.PadTokenId ?? 0, device);
        bool padded = batch.Any(r => r.Count != ids.size(1));
        long t = ids.size(1);
        using var output = lm.Forward(ids, padded ? mask : null);
        var logProbs = nn.functional.log_softmax(output.Logits.narrow(1, 0, t - 1), -1);
        var targets = ids.narrow(1, 1, t - 1);
        var nll = -logProbs.gather(2, targets.unsqueeze(-1)).squeeze(-1);
        // A target counts when it and its predecessor are real tokens (left padding: predecessor real ⇒ target real).
        var valid = mask.narrow(1, 0, t - 1).to_type(ScalarType.Float64);
        var sums = (nll.to_type(ScalarType.Float64) * valid).sum(1).cpu().data<double>().ToArray();
        var counts = valid.sum(1).cpu().data<double>().ToArray();
        var argmax = predictions ? logProbs.argmax(-1).to_type(ScalarType.Int32).cpu().data<int>().ToArray() : null;   // (B, T-1)
        for (int k = 0; k < used.Length; k++)
        {
            long n = (long)counts[k];
            var top = Array.Empty<int>();
            if (argmax is not null)
            {
                top = new int[n];                                    // a left-padded row's predictions are its last n
                Array.Copy(argmax, k * (t - 1) + (t - 1 - n), top, 0, n);
            }
            result[used[k]] = (new SequenceLoss(sums[k], n), top);
        }
        return result;
    }
}
