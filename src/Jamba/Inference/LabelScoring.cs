using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Inference;

/// <summary>
/// Zero- and few-shot classification by label likelihood: each candidate continuation is appended to its prompt and
/// scored by the causal LM as the sum (or the mean) of the log-probabilities of its tokens. All (prompt, choice) pairs
/// of a call run as one left-padded batch; only the logits of the last positions are materialised.
/// </summary>
public static class LabelScoring
{
    /// <summary>
    /// Log-likelihood of every choice of every row: <c>result[row][choice]</c> = Σ log p(choice token | prompt,
    /// earlier choice tokens), divided by the choice's token count when <paramref name="lengthNormalize"/> is set.
    /// An empty choice scores 0.
    /// </summary>
    /// <param name="lm">The causal LM (its device is used).</param>
    /// <param name="prompts">Prompt ids per row; each needs at least one id (start empty prompts with BOS).</param>
    /// <param name="choices">Candidate continuations per row, as ids (rows may have different numbers of choices).</param>
    /// <param name="lengthNormalize">Average instead of sum, so long labels are not penalised for their length.</param>
    public static double[][] LogLikelihoods(JambaForCausalLM lm, IReadOnlyList<IReadOnlyList<int>> prompts,
        IReadOnlyList<IReadOnlyList<IReadOnlyList<int>>> choices, bool lengthNormalize = false)
    {
        ArgumentNullException.ThrowIfNull(lm);
        if (prompts.Count != choices.Count) throw new ArgumentException($"{prompts.Count} prompts but {choices.Count} choice lists", nameof(choices));
        var result = choices.Select(c => new double[c.Count]).ToArray();
        var pairs = new List<(int row, int choice)>();
        var sequences = new List<IReadOnlyList<int>>();
        int longestChoice = 0;
        for (int r = 0; r < prompts.Count; r++)
        {
            if (prompts[r].Count == 0) throw new ArgumentException($"prompt {r} has no tokens; start it with BOS", nameof(prompts));
            for (int c = 0; c < choices[r].Count; c++)
            {
                if (choices[r][c].Count == 0) continue;
                pairs.Add((r, c));
                sequences.Add(prompts[r].Concat(choices[r][c]).ToArray());
                longestChoice = Math.Max(longestChoice, choices[r][c].Count);
            }
        }
        if (pairs.Count == 0) return result;

        var device = lm.Device;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (ids, mask) = TextEncoding.LeftPad(sequences, lm.Config.PadTokenId ?? 0, device);
        bool padded = sequences.Any(s => s.Count != ids.size(1));
        long t = ids.size(1);
        // Positions t-1-L .. t-2 predict the last L tokens; keep just those logits (vocab × T would dominate memory).
        int keep = longestChoice + 1;
        using var output = lm.Forward(ids, padded ? mask : null, logitsToKeep: keep);
        var logProbs = nn.functional.log_softmax(output.Logits, -1);          // [N, keep, V]
        long kept = logProbs.size(1);
        var targets = ids.narrow(1, t - kept + 1, kept - 1);                  // tokens predicted by kept positions 0..kept-2
        var picked = logProbs.narrow(1, 0, kept - 1).gather(2, targets.unsqueeze(-1)).squeeze(-1).to_type(ScalarType.Float64).cpu();
        var values = picked.data<double>().ToArray();
        int width = (int)(kept - 1);
        for (int n = 0; n < pairs.Count; n++)
        {
            var (r, c) = pairs[n];
            int len = choices[r][c].Count;
            double sum = 0;
            for (int j = width - len; j < width; j++) sum += values[n * width + j];
            result[r][c] = lengthNormalize ? sum / len : sum;
        }
        return result;
    }

    /// <summary>Softmax of one row's scores in double precision: the probability of each choice among the choices.</summary>
    public static float[] Softmax(IReadOnlyList<double> scores)
    {
        if (scores.Count == 0) return Array.Empty<float>();
        double max = scores.Max();
        var e = scores.Select(s => Math.Exp(s - max)).ToArray();
        double total = e.Sum();
        return e.Select(v => (float)(v / total)).ToArray();
    }
}
