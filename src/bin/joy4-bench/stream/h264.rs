//! H.264 parameter sets and the AVC sequence header of the synthetic stream.

/// Baseline-profile SPS for 640x360 (40x23 macroblocks, 8 rows cropped), written field by field.
pub fn h264_sps() -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(66, 8); // profile_idc: Baseline
    w.bits(0xC0, 8); // constraint_set0/1
    w.bits(30, 8); // level_idc 3.0
    w.ue(0); // seq_parameter_set_id
    w.ue(0); // log2_max_frame_num_minus4
    w.ue(2); // pic_order_cnt_type
    w.ue(1); // max_num_ref_frames
    w.bits(0, 1); // gaps_in_frame_num_value_allowed_flag
    w.ue(39); // pic_width_in_mbs_minus1 -> 640
    w.ue(22); // pic_height_in_map_units_minus1 -> 368
    w.bits(1, 1); // frame_mbs_only_flag
    w.bits(1, 1); // direct_8x8_inference_flag
    w.bits(1, 1); // frame_cropping_flag
    w.ue(0);
    w.ue(0);
    w.ue(0);
    w.ue(4); // bottom: 4 crop units of 2 rows -> 360
    w.bits(0, 1); // vui_parameters_present_flag
    let mut nal = vec![0x67];
    nal.extend(w.finish());
    nal
}

/// PPS: ids 0, CAVLC, one slice group, defaults, deblocking control present.
pub fn h264_pps() -> Vec<u8> {
    let mut w = BitWriter::default();
    w.ue(0); // pic_parameter_set_id
    w.ue(0); // seq_parameter_set_id
    w.bits(0, 1); // entropy_coding_mode_flag
    w.bits(0, 1); // bottom_field_pic_order_in_frame_present_flag
    w.ue(0); // num_slice_groups_minus1
    w.ue(0); // num_ref_idx_l0_default_active_minus1
    w.ue(0); // num_ref_idx_l1_default_active_minus1
    w.bits(0, 1); // weighted_pred_flag
    w.bits(0, 2); // weighted_bipred_idc
    w.se(0); // pic_init_qp_minus26
    w.se(0); // pic_init_qs_minus26
    w.se(0); // chroma_qp_index_offset
    w.bits(1, 1); // deblocking_filter_control_present_flag
    w.bits(0, 1); // constrained_intra_pred_flag
    w.bits(0, 1); // redundant_pic_cnt_present_flag
    let mut nal = vec![0x68];
    nal.extend(w.finish());
    nal
}

/// Video tag body of the AVC sequence header (AVCDecoderConfigurationRecord).
pub fn avc_sequence_header() -> Vec<u8> {
    let sps = h264_sps();
    let pps = h264_pps();
    let mut body = vec![0x17, 0x00, 0, 0, 0];
    body.extend_from_slice(&[1, sps[1], sps[2], sps[3], 0xFF, 0xE1]);
    body.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    body.extend_from_slice(&sps);
    body.push(1);
    body.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    body.extend_from_slice(&pps);
    body
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn bits(&mut self, value: u64, count: u32) {
        for i in (0..count).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// Unsigned Exp-Golomb.
    fn ue(&mut self, value: u64) {
        let v = value + 1;
        let len = 64 - v.leading_zeros();
        self.bits(0, len - 1);
        self.bits(v, len);
    }

    /// Signed Exp-Golomb.
    fn se(&mut self, value: i64) {
        let mapped = if value > 0 {
            (2 * value - 1) as u64
        } else {
            (-2 * value) as u64
        };
        self.ue(mapped);
    }

    /// RBSP trailing bits: a stop bit, then zeros to the byte boundary.
    fn finish(mut self) -> Vec<u8> {
        self.bits(1, 1);
        while self.n != 0 {
            self.bits(0, 1);
        }
        self.out
    }
}
