import Foundation
import KilnCore
import Testing
@testable import KilnFormats

@Suite struct HuggingFaceConfigTests {
    func load(_ config: [String: Any], generation: [String: Any]? = nil) throws -> ModelConfig {
        let directory = TestFiles.temporaryDirectory()
        _ = FileManager.default.createFile(atPath: directory + "/config.json", contents: try JSONSerialization.data(withJSONObject: config))
        if let generation {
            _ = FileManager.default.createFile(atPath: directory + "/generation_config.json", contents: try JSONSerialization.data(withJSONObject: generation))
        }
        return try HuggingFaceConfig.load(directory: directory)
    }

    @Test func llama3WithRopeScalingAndGenerationConfig() throws {
        let config = try load([
            "model_type": "llama", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192,
            "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
            "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
            "rope_scaling": ["rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192],
            "tie_word_embeddings": true, "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
            "torch_dtype": "bfloat16",
        ], generation: ["temperature": 0.6, "top_p": 0.9, "eos_token_id": [128001, 128009]])
        #expect(config.headDim == 64)
        #expect(config.kvHeads == 8)
        #expect(config.ropeScaling == RopeScaling(type: "llama3", factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 8192))
        #expect(config.eosTokenIDs == [128001, 128008, 128009])
        #expect(config.generationDefaults.temperature == 0.6)
        #expect(config.hiddenActivation == "silu")
        #expect(!config.attentionBias)
    }

    @Test func gemmaFamiliesDefaults() throws {
        let gemma = try load(["model_type": "gemma", "vocab_size": 256000, "hidden_size": 2048, "intermediate_size": 16384,
                              "num_hidden_layers": 18, "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256,
                              "hidden_act": "gelu"])
        #expect(gemma.tieWordEmbeddings)
        #expect(gemma.hiddenActivation == "gelu_pytorch_tanh")
        #expect(gemma.headDim == 256)
        #expect(gemma.slidingWindow == nil)

        let gemma2 = try load(["model_type": "gemma2", "vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216,
                               "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                               "sliding_window": 4096, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
                               "query_pre_attn_scalar": 256])
        #expect(gemma2.slidingLayers == [true, false, true, false])
        #expect(gemma2.attentionLogitSoftcap == 50)
        #expect(gemma2.queryPreAttentionScalar == 256)

        let gemma3 = try load(["model_type": "gemma3", "text_config": [
            "vocab_size": 262144, "hidden_size": 640, "intermediate_size": 2048, "num_hidden_layers": 7,
            "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "sliding_window": 512,
            "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "sliding_window_pattern": 6]])
        #expect(gemma3.modelType == "gemma3")
        #expect(gemma3.slidingLayers == [true, true, true, true, true, false, true])
        #expect(gemma3.ropeLocalTheta == 10_000)
    }

    @Test func qwen2HasBiasAndNoSlidingByDefault() throws {
        let qwen = try load(["model_type": "qwen2", "vocab_size": 151936, "hidden_size": 1536, "intermediate_size": 8960,
                             "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2,
                             "sliding_window": 32768, "use_sliding_window": false, "tie_word_embeddings": true])
        #expect(qwen.attentionBias)
        #expect(qwen.slidingWindow == nil)
        #expect(qwen.headDim == 128)
    }

    @Test func badConfigsNameTheProblem() throws {
        func message(_ config: [String: Any]) -> String {
            do { _ = try load(config); return "no error" } catch { return "\(error)" }
        }
        #expect(message(["model_type": "bert"]).contains("model_type 'bert'"))
        #expect(message(["hidden_size": 8]).contains("missing \"model_type\""))
        #expect(message(["model_type": "llama", "vocab_size": 10, "hidden_size": "big"]).contains("\"hidden_size\" must be an integer"))
        #expect(message(["model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8,
                         "num_hidden_layers": 1, "num_attention_heads": 3, "num_key_value_heads": 2]).contains("not a multiple"))
        let missing = TestFiles.temporaryDirectory()
        #expect(throws: KilnError.self) { try HuggingFaceConfig.load(directory: missing) }
    }
}
