using System.Text;
using Jamba.Tokenization;

namespace Jamba.Tests.Tokenization;

[TestClass]
public sealed class ByteTokenizerTests
{
    private static readonly ByteTokenizer Tok = ByteTokenizer.Instance;

    [TestMethod]
    public void SpecialIdsAndVocabulary()
    {
        Assert.AreEqual(260, Tok.VocabSize);
        Assert.AreEqual(0, Tok.PadId);
        Assert.AreEqual(1, Tok.BosId);
        Assert.AreEqual(2, Tok.EosId);
        Assert.AreEqual("<|pad|>", Tok.IdToToken(0));
        Assert.AreEqual("<|startoftext|>", Tok.IdToToken(1));
        Assert.AreEqual("<|endoftext|>", Tok.IdToToken(2));
        Assert.AreEqual("<|unk|>", Tok.IdToToken(3));
        Assert.AreEqual("<0x00>", Tok.IdToToken(4));
        Assert.AreEqual("<0x41>", Tok.IdToToken(0x41 + 4));
        Assert.AreEqual("<0xFF>", Tok.IdToToken(259));
    }

    [TestMethod]
    [DataRow("Hello, world!")]
    [DataRow("  leading and trailing  \n\t")]
    [DataRow("Grüße aus Köln, ça va? Ελληνικά, Привет, 日本語, 한국어, مرحبا, עברית")]
    [DataRow("😀 👍🏽 👨\u200d👩\u200d👧 🇫🇷")]
    [DataRow("\u0000\u007f\u2581")]
    public void RoundTripsAndUsesOneIdPerUtf8Byte(string text)
    {
        var ids = Tok.Encode(text);
        CollectionAssert.AreEqual(Encoding.UTF8.GetBytes(text).Select(b => b + 4).ToArray(), ids.ToArray());
        Assert.AreEqual(text, Tok.Decode(ids));
    }

    [TestMethod]
    public void BosEosAndEmptyText()
    {
        CollectionAssert.AreEqual(new[] { 1, 'h' + 4, 'i' + 4, 2 }, Tok.Encode("hi", addBos: true, addEos: true).ToArray());
        Assert.AreEqual(0, Tok.Encode(null).Count);
        Assert.AreEqual(0, Tok.Encode("").Count);
        CollectionAssert.AreEqual(new[] { 1 }, Tok.Encode(null, addBos: true).ToArray());
    }

    [TestMethod]
    public void SpecialTokensAreSkippedOrWritten()
    {
        int[] ids = [0, 1, 'h' + 4, 'i' + 4, 3, 2];
        Assert.AreEqual("hi", Tok.Decode(ids));
        Assert.AreEqual("<|pad|><|startoftext|>hi<|unk|><|endoftext|>", Tok.Decode(ids, skipSpecialTokens: false));
    }

    [TestMethod]
    public void InvalidUtf8DecodesToOneReplacementPerBadByte()
    {
        static int B(int b) => b + 4;
        Assert.AreEqual("\uFFFD", Tok.Decode([B(0x80)]));
        Assert.AreEqual("\uFFFD\uFFFD\uFFFD", Tok.Decode([B(0xF0), B(0x9F), B(0x98)]));   // truncated emoji
        Assert.AreEqual("\uFFFD\uFFFDa", Tok.Decode([B(0xC0), B(0x80), B('a')]));          // overlong
        Assert.AreEqual("\uFFFD\uFFFD\uFFFD", Tok.Decode([B(0xED), B(0xA0), B(0x80)]));   // surrogate
        Assert.AreEqual("a\uFFFD😀", Tok.Decode([B('a'), B(0xE2), B(0xF0), B(0x9F), B(0x98), B(0x80)]));
    }

    [TestMethod]
    public void OutOfRangeIdsAreRejectedByName()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Tok.Decode([5, 260]));
        StringAssert.Contains(e.Message, "260");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Tok.IdToToken(-1));
    }
}
