using Jamba.Training;

namespace Jamba.Quickstart;

/// <summary>
/// The quickstart's built-in data set, generated from a seed so that nothing has to be downloaded: short stories that
/// mention two different animals, separated by filler words; the label is the animal mentioned <b>first</b>.
/// </summary>
/// <remarks>
/// <para>
/// A text is <c>F1 A F2 B F3</c>: <c>A</c> and <c>B</c> are two different animals, <c>F1</c> and <c>F3</c> are 1–2
/// filler words, <c>F2</c> is 2–<see cref="MaxGap"/> filler words, every filler word drawn independently and uniformly.
/// The label is <c>A</c>.
/// </para>
/// <para>
/// Why a bag of words cannot solve it: the ordered pairs (A, B) and (B, A) are equally likely, and in both the words
/// next to each animal are independent uniform filler words (F1 and F3 are never empty and F2 has at least two
/// words, so no word touches both animals or the start/end of the text differently). The bag of words, word bigrams
/// and character trigrams — everything ML.NET's <c>FeaturizeText</c> extracts — therefore has the same distribution
/// for both orders. Such a model can learn which two animals a story mentions but not which came first: at best 50 %
/// accuracy (chance among 4 classes is 25 %). A sequence model has to remember the first animal across the gap and
/// ignore the second one.
/// </para>
/// <para>
/// Labels are balanced exactly (row <c>i</c> gets animal <c>i mod 4</c> before the rows are shuffled), and the rows
/// depend only on the seed (<see cref="SplitMix64"/>, whose sequence is fixed by definition).
/// </para>
/// </remarks>
public static class FirstMentionTask
{
    /// <summary>
    /// The classes: the animals a story can mention. Each has a letter no filler word has (x, j, z, q), so a byte-level
    /// model spots the animals quickly and spends its short training on the part that matters here, the order.
    /// </summary>
    public static IReadOnlyList<string> Animals { get; } = new[] { "fox", "jay", "zebra", "quail" };

    /// <summary>Neutral words between and around the animals (none of them an animal).</summary>
    public static IReadOnlyList<string> Filler { get; } = new[]
    {
        "the", "a", "we", "saw", "then", "near", "old", "big", "red", "sea", "hill", "road", "late", "and",
        "by", "tree", "home", "in", "rain", "ran", "past", "slow", "green", "far", "calm", "town",
    };

    /// <summary>The most filler words between the two animals.</summary>
    public const int MaxGap = 5;

    /// <summary>
    /// Hand-written stories for the reloaded classifier, with the animal mentioned first. Most of their filler words
    /// (river, house, walked, …) never occur in the generated data, so they test more than memorised n-grams.
    /// </summary>
    public static IReadOnlyList<LabeledText> NewSentences { get; } = new[]
    {
        new LabeledText { Text = "we saw a zebra near the river and later a fox", Label = "zebra" },
        new LabeledText { Text = "a fox walked past the old house then a zebra", Label = "fox" },
        new LabeledText { Text = "in the rain the quail walked slowly by the jay in town", Label = "quail" },
        new LabeledText { Text = "the jay saw the fox by the road", Label = "jay" },
    };

    /// <summary>
    /// <paramref name="count"/> labelled stories from <paramref name="seed"/>; the same arguments always give the same
    /// rows, and each animal is the label of <c>count / 4</c> rows (one more for the first <c>count mod 4</c>).
    /// </summary>
    public static IReadOnlyList<LabeledText> Generate(int count, ulong seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "must not be negative");
        var rng = new SplitMix64(seed);
        var rows = new LabeledText[count];
        for (int i = 0; i < count; i++)
        {
            int first = i % Animals.Count;
            // The second animal is uniform among the others, so (A, B) and (B, A) are equally likely.
            int second = (first + 1 + rng.NextInt(Animals.Count - 1)) % Animals.Count;
            var words = new List<string>();
            AddFiller(words, rng, 1, 2);
            words.Add(Animals[first]);
            AddFiller(words, rng, 2, MaxGap);
            words.Add(Animals[second]);
            AddFiller(words, rng, 1, 2);
            rows[i] = new LabeledText { Text = string.Join(' ', words), Label = Animals[first] };
        }
        rng.Shuffle(rows);
        return rows;
    }

    private static void AddFiller(List<string> words, SplitMix64 rng, int min, int max)
    {
        int n = min + rng.NextInt(max - min + 1);
        for (int k = 0; k < n; k++) words.Add(Filler[rng.NextInt(Filler.Count)]);
    }
}
