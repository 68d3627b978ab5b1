using Jamba.Training;

namespace Jamba.Lab.Experiments.Ablation;

/// <summary>
/// Language modelling of a generated corpus with both kinds of structure a language model must learn: local
/// statistics (a sparse second-order Markov source over <see cref="Words"/> word tokens, each context allowing
/// four continuations with probabilities 0.55/0.25/0.12/0.08) and in-context retrieval (quotations: with
/// probability <see cref="QuoteProbability"/> a segment is a marker followed by a verbatim repeat of an earlier
/// segment of the same sequence, predictable only by looking it up). Every position is scored.
/// The source is fixed by the constructor's <c>sourceSeed</c>, independent of training seeds.
/// </summary>
public sealed class MarkovLanguageTask : IAblationTask
{
    private const int Bos = 1, Quote = 4, FirstWord = 8;
    private static readonly double[] ContinuationProbabilities = { 0.55, 0.25, 0.12, 0.08 };
    private readonly int[,][] continuations;

    /// <summary>Creates the source: <paramref name="words"/> word tokens, sequences of <paramref name="sequenceLength"/> tokens.</summary>
    public MarkovLanguageTask(int words = 32, int sequenceLength = 128, double quoteProbability = 0.3, ulong sourceSeed = 0x5EED)
    {
        if (words < ContinuationProbabilities.Length) throw new ArgumentException($"need at least {ContinuationProbabilities.Length} words");
        Words = words; SequenceLength = sequenceLength; QuoteProbability = quoteProbability;
        var rng = new SplitMix64(sourceSeed);
        continuations = new int[words, words][];
        var all = Enumerable.Range(0, words).ToArray();
        for (int a = 0; a < words; a++)
            for (int b = 0; b < words; b++)
            {
                rng.Shuffle(all);
                continuations[a, b] = all.Take(ContinuationProbabilities.Length).ToArray();
            }
    }

    /// <summary>Word tokens of the Markov source.</summary>
    public int Words { get; }
    /// <summary>Chance that a segment (after the first) is a quotation of an earlier one.</summary>
    public double QuoteProbability { get; }

    /// <inheritdoc/>
    public string Name => "lm";
    /// <inheritdoc/>
    public string AccuracyMeaning => "next-token accuracy over every position";
    /// <inheritdoc/>
    public int VocabSize => FirstWord + Words;
    /// <inheritdoc/>
    public int DefaultSteps => 200;
    /// <inheritdoc/>
    public int DefaultBatchSize => 16;
    /// <inheritdoc/>
    public int SequenceLength { get; }

    /// <inheritdoc/>
    public void Sample(SplitMix64 rng, Span<long> ids, Span<long> labels)
    {
        var segments = new List<(int Start, int Length)>();
        int t = 0;
        ids[t++] = Bos;
        int a = rng.NextInt(Words), b = rng.NextInt(Words);
        while (t < SequenceLength)
        {
            int length = 6 + rng.NextInt(11);
            bool quote = segments.Count > 0 && rng.NextInt(1000) < QuoteProbability * 1000;
            if (quote)
            {
                var (start, len) = segments[rng.NextInt(segments.Count)];
                ids[t++] = Quote;
                for (int i = 0; i < len && t < SequenceLength; i++) ids[t++] = ids[start + i];
                // The Markov chain continues from the quotation's last two words.
                if (t >= 2 && ids[t - 1] >= FirstWord && ids[t - 2] >= FirstWord) { a = (int)ids[t - 2] - FirstWord; b = (int)ids[t - 1] - FirstWord; }
                continue;
            }
            int segmentStart = t;
            for (int i = 0; i < length && t < SequenceLength; i++)
            {
                int next = Draw(rng, a, b);
                ids[t++] = FirstWord + next;
                a = b; b = next;
            }
            segments.Add((segmentStart, t - segmentStart));
        }
        for (int i = 0; i < SequenceLength; i++) labels[i] = i == 0 ? -100 : ids[i];
    }

    private int Draw(SplitMix64 rng, int a, int b)
    {
        double u = (rng.Next() >> 11) * (1.0 / (1UL << 53));
        var options = continuations[a, b];
        for (int i = 0; i < options.Length - 1; i++)
        {
            if (u < ContinuationProbabilities[i]) return options[i];
            u -= ContinuationProbabilities[i];
        }
        return options[^1];
    }
}
