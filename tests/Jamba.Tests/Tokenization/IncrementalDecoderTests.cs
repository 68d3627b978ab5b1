using Jamba.Tokenization;
using static Jamba.Tests.Tokenization.TokenizerFixtures;

namespace Jamba.Tests.Tokenization;

[TestClass]
public sealed class IncrementalDecoderTests
{
    private static readonly string[] Texts =
    [
        "Hello world",
        " leading space",
        "  two leading and two trailing  ",
        "mixed: café 日本 😀 123\tend ",
        "👨\u200d👩\u200d👧 family",
        "Здравствуй мир",
        "مرحبا",
        "\n\nparagraph\n\n",
        "Ünïcödé",
    ];

    private static IEnumerable<object[]> Cases()
    {
        foreach (string text in Texts)
        {
            yield return [text, "spm"];
            yield return [text, "byte"];
        }
    }

    private static IJambaTokenizer Get(string which) => which == "byte" ? ByteTokenizer.Instance : Tokenizer;

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void StreamedTextEqualsFullDecodeForEveryPrefix(string text, string which)
    {
        var tok = Get(which);
        int[] ids = tok.Encode(text, addBos: true, addEos: true).ToArray();

        var running = new IncrementalDecoder(tok);
        string streamed = "";
        for (int k = 1; k <= ids.Length; k++)
        {
            streamed += running.Add(ids[k - 1]);
            string full = tok.Decode(ids[..k]);
            Assert.IsTrue(full.StartsWith(streamed, StringComparison.Ordinal), $"prefix {k}: streamed {Show(streamed)} is not a prefix of {Show(full)}");

            // A fresh decoder fed the same prefix and finished gives exactly the full decode, held-back bytes included.
            var fresh = new IncrementalDecoder(tok);
            string pieces = string.Concat(ids[..k].Select(fresh.Add)) + fresh.Finish();
            Assert.AreEqual(full, pieces, $"prefix {k} of {Show(text)}");
        }
        Assert.AreEqual(tok.Decode(ids), streamed + running.Finish());
        Assert.AreEqual(text, streamed);
    }

    [TestMethod]
    public void AnEmojiAppearsOnlyWithItsLastByte()
    {
        var decoder = new IncrementalDecoder(Tokenizer);
        int[] ids = Tokenizer.Encode("😀").ToArray(); // ▁ then four byte pieces
        CollectionAssert.AreEqual(new[] { 1788, 244, 163, 156, 132 }, ids);
        string[] outputs = ids.Select(decoder.Add).ToArray();
        CollectionAssert.AreEqual(new[] { "", "", "", "", "😀" }, outputs);
    }

    [TestMethod]
    public void OnlyTheFirstPieceLosesTheDummyPrefixSpace()
    {
        var decoder = new IncrementalDecoder(Tokenizer);
        // "Hello world": ▁H e ll o ▁wor ld, after a BOS that must not count as the first piece.
        string[] outputs = new[] { 1, 685, 1789, 357, 1791, 1137, 487 }.Select(decoder.Add).ToArray();
        CollectionAssert.AreEqual(new[] { "", "H", "e", "ll", "o", " wor", "ld" }, outputs);

        // Finish starts a new sequence, whose first piece again loses its space.
        Assert.AreEqual("", decoder.Finish());
        Assert.AreEqual("H", decoder.Add(685));
    }

    [TestMethod]
    public void FinishShowsUnfinishedBytesAsFullDecodeDoes()
    {
        var decoder = new IncrementalDecoder(Tokenizer);
        Assert.AreEqual("", decoder.Add(244));
        Assert.AreEqual("", decoder.Add(163));
        Assert.AreEqual("\uFFFD\uFFFD", decoder.Finish());
        Assert.AreEqual("\uFFFD\uFFFD", Tokenizer.Decode([244, 163]));
    }

    [TestMethod]
    public void OutOfRangeIdIsRejected()
    {
        var decoder = new IncrementalDecoder(ByteTokenizer.Instance);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => decoder.Add(260));
        StringAssert.Contains(e.Message, "260");
    }

    [TestMethod]
    public void WorksWithTokenizersFromElsewhere()
    {
        var foreign = new ForeignTokenizer(ByteTokenizer.Instance);
        int[] ids = ByteTokenizer.Instance.Encode("añ😀b").ToArray();
        var decoder = new IncrementalDecoder(foreign);
        string[] outputs = ids.Select(decoder.Add).ToArray();
        Assert.AreEqual("añ😀b", string.Concat(outputs) + decoder.Finish());
        Assert.AreEqual("", outputs[1], "first byte of ñ is held back");
        Assert.AreEqual("😀", outputs[6], "the emoji comes with its last byte");
    }

    /// <summary>Hides the library's internal decoding support, to exercise the generic path.</summary>
    private sealed class ForeignTokenizer(IJambaTokenizer inner) : IJambaTokenizer
    {
        public int VocabSize => inner.VocabSize;
        public int? BosId => inner.BosId;
        public int? EosId => inner.EosId;
        public int? PadId => inner.PadId;
        public IReadOnlyList<int> Encode(string? text, bool addBos = false, bool addEos = false) => inner.Encode(text, addBos, addEos);
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => inner.Decode(ids, skipSpecialTokens);
        public string IdToToken(int id) => inner.IdToToken(id);
    }
}
