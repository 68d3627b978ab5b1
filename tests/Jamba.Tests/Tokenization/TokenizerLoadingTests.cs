using Google.Protobuf;
using Jamba.Tokenization;
using static Jamba.Tests.Tokenization.TokenizerFixtures;

namespace Jamba.Tests.Tokenization;

[TestClass]
public sealed class TokenizerLoadingTests
{
    private string _dir = "";

    [TestInitialize]
    public void CreateFolder() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "jamba-tok-" + Guid.NewGuid().ToString("N")));

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_dir, recursive: true);

    [TestMethod]
    public void ByteNameGivesTheByteTokenizer() => Assert.IsInstanceOfType<ByteTokenizer>(JambaTokenizer.Load("byte"));

    [TestMethod]
    public void LoadsAModelFileOrACheckpointFolder()
    {
        foreach (string path in new[] { ModelPath, ModelFolder })
        {
            var tok = JambaTokenizer.Load(path);
            Assert.IsInstanceOfType<SentencePieceTokenizer>(tok);
            CollectionAssert.AreEqual(new[] { 1410, 357, 1791 }, tok.Encode("hello").ToArray());
        }
    }

    [TestMethod]
    public void MissingPathIsNamed()
    {
        string missing = Path.Combine(_dir, "nope", "tokenizer.model");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => JambaTokenizer.Load(missing));
        StringAssert.Contains(e.Message, missing);
        Assert.ThrowsExactly<FileNotFoundException>(() => SentencePieceTokenizer.FromFile(missing));
    }

    [TestMethod]
    public void FolderWithoutModelIsNamed()
    {
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => JambaTokenizer.Load(_dir));
        StringAssert.Contains(e.Message, _dir);
        StringAssert.Contains(e.Message, "tokenizer.model");
    }

    [TestMethod]
    public void CorruptFilesGiveInvalidDataNamingTheFile()
    {
        byte[] model = File.ReadAllBytes(ModelPath);
        var random = new Random(7);
        byte[] noise = new byte[4096];
        random.NextBytes(noise);
        var files = new Dictionary<string, byte[]>
        {
            ["empty.model"] = [],
            ["text.model"] = "{\"model\": {\"type\": \"BPE\"}}"u8.ToArray(),
            ["truncated.model"] = model[..(model.Length / 2)],
            ["noise.model"] = noise,
        };
        foreach (var (name, bytes) in files)
        {
            string path = Path.Combine(_dir, name);
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsExactly<InvalidDataException>(() => JambaTokenizer.Load(path), name);
            StringAssert.Contains(e.Message, path);
        }
    }

    [TestMethod]
    public void UnigramModelIsNotSupported()
    {
        string path = Path.Combine(_dir, "unigram.model");
        File.WriteAllBytes(path, TinyModel(modelType: 1));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => SentencePieceTokenizer.FromFile(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void CharacterMapNormalizationIsNotSupported()
    {
        // Neither this library nor Microsoft.ML.Tokenizers applies an nmt_nfkc-style map to BPE models; refusing beats
        // silently producing other ids than SentencePiece.
        string path = Path.Combine(_dir, "nfkc.model");
        File.WriteAllBytes(path, TinyModel(modelType: 2, characterMap: [1, 2, 3, 4]));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => JambaTokenizer.Load(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void WhitespaceCollapsingModelsAreNotSupported()
    {
        string path = Path.Combine(_dir, "collapse.model");
        File.WriteAllBytes(path, TinyModel(modelType: 2, removeExtraWhitespaces: true));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => JambaTokenizer.Load(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void HandBuiltBpeModelLoads()
    {
        // Guards the test model writer above: the same bytes with model type BPE load and encode.
        var tok = SentencePieceTokenizer.FromStream(new MemoryStream(TinyModel(modelType: 2)));
        Assert.AreEqual(3, tok.VocabSize);
        CollectionAssert.AreEqual(new[] { 2, 1 }, tok.Encode("a").ToArray()); // ▁ then a
        Assert.IsNull(tok.BosId);
        Assert.ThrowsExactly<InvalidOperationException>(() => tok.Encode("a", addBos: true));
    }

    /// <summary>A three-piece model (unknown, "a", "▁"), identity normalization, written with the protobuf field numbers of sentencepiece_model.proto.</summary>
    private static byte[] TinyModel(int modelType, byte[]? characterMap = null, bool removeExtraWhitespaces = false)
    {
        static byte[] Piece(string text, float score, int type)
        {
            using var m = new MemoryStream();
            var o = new CodedOutputStream(m);
            o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString(text);
            o.WriteTag(2, WireFormat.WireType.Fixed32); o.WriteFloat(score);
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteEnum(type);
            o.Flush();
            return m.ToArray();
        }
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        foreach (var p in new[] { Piece("<unk>", 0, 2), Piece("a", -1, 1), Piece("\u2581", -2, 1) })
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(p));
        }
        using var trainer = new MemoryStream();
        var t = new CodedOutputStream(trainer);
        t.WriteTag(3, WireFormat.WireType.Varint); t.WriteEnum(modelType);
        t.WriteTag(40, WireFormat.WireType.Varint); t.WriteInt32(0);
        t.Flush();
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(trainer.ToArray()));
        using var normalizer = new MemoryStream();
        var n = new CodedOutputStream(normalizer);
        n.WriteTag(1, WireFormat.WireType.LengthDelimited); n.WriteString("identity");
        if (characterMap is not null) { n.WriteTag(2, WireFormat.WireType.LengthDelimited); n.WriteBytes(ByteString.CopyFrom(characterMap)); }
        n.WriteTag(4, WireFormat.WireType.Varint); n.WriteBool(removeExtraWhitespaces);
        n.Flush();
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(normalizer.ToArray()));
        output.Flush();
        return ms.ToArray();
    }
}
