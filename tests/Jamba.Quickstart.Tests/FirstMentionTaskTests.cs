using Jamba.Quickstart;

namespace Jamba.Quickstart.Tests;

[TestClass]
public sealed class FirstMentionTaskTests
{
    [TestMethod]
    public void SameSeedSameRowsOtherSeedOtherRows()
    {
        var a = FirstMentionTask.Generate(200, 7);
        var b = FirstMentionTask.Generate(200, 7);
        var c = FirstMentionTask.Generate(200, 8);
        CollectionAssert.AreEqual(a.Select(r => (r.Text, r.Label)).ToList(), b.Select(r => (r.Text, r.Label)).ToList());
        CollectionAssert.AreNotEqual(a.Select(r => r.Text).ToList(), c.Select(r => r.Text).ToList());
    }

    [TestMethod]
    public void LabelsAreBalanced()
    {
        foreach (int count in new[] { 400, 402 })
        {
            var counts = FirstMentionTask.Generate(count, 3).GroupBy(r => r.Label).ToDictionary(g => g.Key, g => g.Count());
            CollectionAssert.AreEquivalent(FirstMentionTask.Animals.ToList(), counts.Keys.ToList());
            Assert.IsTrue(counts.Values.Max() - counts.Values.Min() <= 1, string.Join(", ", counts));
        }
    }

    [TestMethod]
    public void EveryStoryHasTwoAnimalsTheLabelFirstWithFillerAroundAndBetween()
    {
        foreach (var row in FirstMentionTask.Generate(500, 11))
        {
            var words = row.Text.Split(' ');
            var positions = words.Select((w, i) => (w, i)).Where(p => FirstMentionTask.Animals.Contains(p.w)).ToList();
            Assert.AreEqual(2, positions.Count, row.Text);
            Assert.AreNotEqual(positions[0].w, positions[1].w, row.Text);
            Assert.AreEqual(row.Label, positions[0].w, row.Text);
            // The symmetry argument needs filler before, between (two or more words) and after the animals.
            Assert.IsTrue(positions[0].i >= 1 && positions[1].i - positions[0].i >= 3 && positions[1].i <= words.Length - 2, row.Text);
            Assert.IsTrue(words.Where(w => !FirstMentionTask.Animals.Contains(w)).All(FirstMentionTask.Filler.Contains), row.Text);
        }
    }

    [TestMethod]
    public void BothOrdersOfEveryPairAreAboutEquallyLikely()
    {
        // The bag-of-words bound rests on P(A before B) = P(B before A) for every pair.
        var rows = FirstMentionTask.Generate(12_000, 5);
        var ordered = rows.Select(r => r.Text.Split(' ').Where(FirstMentionTask.Animals.Contains).ToArray())
            .GroupBy(p => (p[0], p[1])).ToDictionary(g => g.Key, g => g.Count());
        Assert.AreEqual(12, ordered.Count);
        foreach (var ((a, b), n) in ordered)
        {
            int reverse = ordered[(b, a)];
            Assert.IsTrue(Math.Abs(n - reverse) < 0.15 * (n + reverse) / 2, $"{a},{b}: {n} vs {reverse}");
        }
    }
}
