using System.Text.Json;
using Jamba.Tokenization;
using static Jamba.Tests.Tokenization.TokenizerFixtures;

namespace Jamba.Tests.Tokenization;

[TestClass]
public sealed class SentencePieceTokenizerTests
{
    [TestMethod]
    public void SpecialIdsAndVocabularyMatchTheModel()
    {
        var tok = Tokenizer;
        var expected = Expected;
        Assert.AreEqual(expected.GetProperty("vocab_size").GetInt32(), tok.VocabSize);
        var special = expected.GetProperty("special_ids");
        Assert.AreEqual(special.GetProperty("pad").GetInt32(), tok.PadId);
        Assert.AreEqual(special.GetProperty("bos").GetInt32(), tok.BosId);
        Assert.AreEqual(special.GetProperty("eos").GetInt32(), tok.EosId);
        Assert.AreEqual(special.GetProperty("unk").GetInt32(), tok.UnknownId);
        Assert.IsTrue(tok.ByteFallback);
    }

    [TestMethod]
    public void EveryPieceTextMatchesPiecesJson()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(ModelFolder, "pieces.json")));
        var pieces = doc.RootElement.GetProperty("pieces").EnumerateArray().ToList();
        Assert.AreEqual(Tokenizer.VocabSize, pieces.Count);
        foreach (var p in pieces)
            Assert.AreEqual(p.GetProperty("piece").GetString(), Tokenizer.IdToToken(p.GetProperty("id").GetInt32()));
    }

    [TestMethod]
    public void FixtureStringsEncodeAndDecodeLikeSentencePiece()
    {
        var failures = new List<string>();
        int count = 0;
        foreach (var c in Expected.GetProperty("cases").EnumerateArray())
        {
            count++;
            string text = c.GetProperty("text").GetString()!;
            Check(failures, text, "ids", Ints(c.GetProperty("ids")), Tokenizer.Encode(text));
            Check(failures, text, "ids_with_bos", Ints(c.GetProperty("ids_with_bos")), Tokenizer.Encode(text, addBos: true));
            Check(failures, text, "ids_with_bos_eos", Ints(c.GetProperty("ids_with_bos_eos")), Tokenizer.Encode(text, addBos: true, addEos: true));

            string[] pieces = c.GetProperty("pieces").EnumerateArray().Select(e => e.GetString()!).ToArray();
            string[] ourPieces = Tokenizer.Encode(text).Select(Tokenizer.IdToToken).ToArray();
            if (!pieces.SequenceEqual(ourPieces)) failures.Add($"{Show(text)} pieces differ");

            string decoded = c.GetProperty("decoded").GetString()!;
            string ourDecoded = Tokenizer.Decode(Ints(c.GetProperty("ids")));
            if (decoded != ourDecoded) failures.Add($"{Show(text)} decode: expected {Show(decoded)}, got {Show(ourDecoded)}");
            if (c.GetProperty("roundtrip_exact").GetBoolean() != (ourDecoded == text)) failures.Add($"{Show(text)} round trip flag differs");
        }
        Assert.AreEqual(40, count);
        Assert.AreEqual(0, failures.Count, string.Join("\n", failures));
    }

    [TestMethod]
    public void ExtraStringsEncodeAndDecodeLikeSentencePiece()
    {
        var failures = new List<string>();
        int count = 0;
        foreach (var c in Extra.GetProperty("cases").EnumerateArray())
        {
            count++;
            string text = c.GetProperty("text").GetString()!;
            int[] ids = Ints(c.GetProperty("ids"));
            Check(failures, text, "ids", ids, Tokenizer.Encode(text));
            string decoded = c.GetProperty("decoded").GetString()!;
            string ourDecoded = Tokenizer.Decode(ids);
            if (decoded != ourDecoded) failures.Add($"{Show(text)} decode: expected {Show(decoded)}, got {Show(ourDecoded)}");
        }
        Assert.IsTrue(count > 400, $"only {count} extra cases loaded");
        Assert.AreEqual(0, failures.Count, $"{failures.Count} of {count} differ:\n" + string.Join("\n", failures.Take(30)));
    }

    [TestMethod]
    public void HandPickedIdSequencesDecodeLikeSentencePiece()
    {
        // Leading-space rule after control ids, unknown id surface, and bad UTF-8 from byte pieces.
        var failures = new List<string>();
        int count = 0;
        foreach (var c in Extra.GetProperty("decode_cases").EnumerateArray())
        {
            count++;
            int[] ids = Ints(c.GetProperty("ids"));
            string expected = c.GetProperty("decoded").GetString()!;
            string actual = Tokenizer.Decode(ids);
            if (expected != actual) failures.Add($"{Show(ids)}: expected {Show(expected)}, got {Show(actual)}");
        }
        Assert.IsTrue(count >= 20);
        Assert.AreEqual(0, failures.Count, string.Join("\n", failures));
    }

    [TestMethod]
    public void NullAndEmptyTextGiveNoIdsButBosEosWhenAsked()
    {
        Assert.AreEqual(0, Tokenizer.Encode(null).Count);
        Assert.AreEqual(0, Tokenizer.Encode("").Count);
        CollectionAssert.AreEqual(new[] { 1, 2 }, Tokenizer.Encode(null, addBos: true, addEos: true).ToArray());
        CollectionAssert.AreEqual(new[] { 2 }, Tokenizer.Encode("", addEos: true).ToArray());
    }

    [TestMethod]
    public void KeepingSpecialTokensWritesTheirPieces()
    {
        int[] ids = [1, 1410, 357, 1791, 2];
        Assert.AreEqual("hello", Tokenizer.Decode(ids));
        Assert.AreEqual("<|startoftext|>hello<|endoftext|>", Tokenizer.Decode(ids, skipSpecialTokens: false));
        Assert.AreEqual(" \u2047 ", Tokenizer.Decode([3]));
        Assert.AreEqual("<|unk|>", Tokenizer.Decode([3], skipSpecialTokens: false));
    }

    [TestMethod]
    public void OutOfRangeIdsAreRejectedByName()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Tokenizer.Decode([5, 2000]));
        StringAssert.Contains(e.Message, "2000");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Tokenizer.Decode([-1]));
        StringAssert.Contains(e.Message, "-1");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Tokenizer.IdToToken(2000));
        StringAssert.Contains(e.Message, "2000");
    }

    [TestMethod]
    public void LoadsFromAStreamToo()
    {
        using var stream = File.OpenRead(ModelPath);
        var tok = SentencePieceTokenizer.FromStream(stream);
        CollectionAssert.AreEqual(new[] { 685, 1789, 357, 1791, 1137, 487 }, tok.Encode("Hello world").ToArray());
    }

    private static void Check(List<string> failures, string text, string what, int[] expected, IReadOnlyList<int> actual)
    {
        if (!expected.SequenceEqual(actual))
            failures.Add($"{Show(text)} {what}: expected {Show(expected)}, got {Show(actual)}");
    }
}
