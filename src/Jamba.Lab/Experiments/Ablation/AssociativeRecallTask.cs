using Jamba.Training;

namespace Jamba.Lab.Experiments.Ablation;

/// <summary>
/// In-context associative recall (multi-query): a sequence opens with <see cref="Pairs"/> key–value pairs (distinct
/// keys, random values), continues with filler tokens, and ends with queries: a key seen at the start, after which
/// the model must produce its value. Only the answers are scored, so loss and accuracy measure retrieval from far
/// back in the context alone. Layout: <c>BOS k1 v1 … kn vn f f … f SEP q1 a1 q2 a2 …</c>.
/// The pairs change every sequence: nothing can be memorised in the weights; the answer is only in the context.
/// Two levels of skill show in the accuracy: copying <i>some</i> value stated in the context scores 1 / <see cref="Pairs"/>
/// (25% with the defaults), and only binding each value to its key scores above that (chance is 1 / <see cref="Values"/>).
/// The defaults (4 pairs, 16 keys and values, 48 tokens, 800 updates of 32 sequences) are sized so that a small hybrid
/// learns the binding well inside the budget (its curves are in docs/paper-reproduction.md), so the budget can show
/// which models learn it and which do not.
/// </summary>
public sealed class AssociativeRecallTask : IAblationTask
{
    private const int Bos = 1, Separator = 3, FirstKey = 8;

    /// <summary>Creates the task: <paramref name="pairs"/> pairs, <paramref name="queries"/> queries, sequences of <paramref name="sequenceLength"/> tokens.</summary>
    public AssociativeRecallTask(int pairs = 4, int queries = 12, int sequenceLength = 48, int keys = 16, int values = 16, int fillerTokens = 8)
    {
        if (pairs < 1 || pairs > keys) throw new ArgumentException($"pairs must be in [1, keys = {keys}]");
        if (queries < 1) throw new ArgumentException("queries must be positive");
        int needed = 1 + 2 * pairs + 1 + 2 * queries;
        if (sequenceLength < needed) throw new ArgumentException($"{pairs} pairs and {queries} queries need at least {needed} tokens");
        Pairs = pairs; Queries = queries; SequenceLength = sequenceLength;
        Keys = keys; Values = values; FillerTokens = fillerTokens;
    }

    /// <summary>Key–value pairs stated at the start of each sequence.</summary>
    public int Pairs { get; }
    /// <summary>Queries at the end of each sequence (keys drawn with replacement from the stated ones).</summary>
    public int Queries { get; }
    /// <summary>Distinct key tokens.</summary>
    public int Keys { get; }
    /// <summary>Distinct value tokens.</summary>
    public int Values { get; }
    /// <summary>Distinct filler tokens.</summary>
    public int FillerTokens { get; }

    /// <inheritdoc/>
    public string Name => "recall";
    /// <inheritdoc/>
    public string AccuracyMeaning => "answers recalled (argmax = the value stated for the queried key)";
    /// <inheritdoc/>
    public int VocabSize => FirstKey + Keys + Values + FillerTokens;
    /// <inheritdoc/>
    public int SequenceLength { get; }
    /// <inheritdoc/>
    public int DefaultSteps => 800;
    /// <inheritdoc/>
    public int DefaultBatchSize => 32;
    /// <summary>Tokens between the last pair and the first query (the filler).</summary>
    public int Gap => SequenceLength - (1 + 2 * Pairs + 1 + 2 * Queries);

    /// <inheritdoc/>
    public void Sample(SplitMix64 rng, Span<long> ids, Span<long> labels)
    {
        labels.Fill(-100);
        var keys = Enumerable.Range(0, Keys).ToArray();
        rng.Shuffle(keys);
        var values = new int[Pairs];
        int t = 0;
        ids[t++] = Bos;
        for (int p = 0; p < Pairs; p++)
        {
            values[p] = rng.NextInt(Values);
            ids[t++] = FirstKey + keys[p];
            ids[t++] = FirstKey + Keys + values[p];
        }
        int fillerStart = FirstKey + Keys + Values;
        for (int g = 0; g < Gap; g++) ids[t++] = fillerStart + rng.NextInt(FillerTokens);
        ids[t++] = Separator;
        for (int q = 0; q < Queries; q++)
        {
            int p = rng.NextInt(Pairs);
            ids[t++] = FirstKey + keys[p];
            ids[t] = FirstKey + Keys + values[p];
            labels[t] = ids[t];
            t++;
        }
    }
}
