import { runFfmpeg, ffmpegReason } from './ffmpeg.js';

export type VideoCodec = 'h264' | 'h264-lossless' | 'vp8' | 'vp9' | 'mpeg4' | 'mpeg1' | 'mjpeg' | 'png';

export interface EncodeOptions {
  width: number;
  height: number;
  fps?: number;
  codec?: VideoCodec;
  /** keyframe interval (short GOPs decode faster from arbitrary frames) */
  gop?: number;
  /** extra output args placed before the file name (e.g. a filter) */
  extraArgs?: string[];
}

export function codecArgs(codec: VideoCodec, gop: number): string[] {
  switch (codec) {
    case 'h264':
      return ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-g', String(gop), '-bf', '0', '-pix_fmt', 'yuv420p'];
    case 'h264-lossless':
      return ['-c:v', 'libx264', '-preset', 'veryfast', '-qp', '0', '-g', String(gop), '-pix_fmt', 'yuv444p'];
    case 'vp8':
      return ['-c:v', 'libvpx', '-b:v', '2M', '-g', String(gop), '-pix_fmt', 'yuv420p'];
    case 'vp9':
      return ['-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '20', '-deadline', 'realtime', '-cpu-used', '8', '-g', String(gop), '-pix_fmt', 'yuv420p'];
    case 'mpeg4':
      return ['-c:v', 'mpeg4', '-q:v', '2', '-g', String(gop), '-pix_fmt', 'yuv420p'];
    case 'mpeg1':
      return ['-c:v', 'mpeg1video', '-q:v', '2', '-g', String(gop), '-pix_fmt', 'yuv420p'];
    case 'png':
      return ['-c:v', 'png', '-frames:v', '1'];
    case 'mjpeg':
      return ['-c:v', 'mjpeg', '-q:v', '2', '-pix_fmt', 'yuvj444p'];
  }
}

/** Encode raw RGB frames ([F, H, W, 3] uint8) into a video file. */
export async function encodeFrames(frames: Uint8Array, out: string, o: EncodeOptions): Promise<void> {
  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${o.width}x${o.height}`, '-r', String(o.fps ?? 25), '-i', 'pipe:0',
    '-threads', '1',
    ...codecArgs(o.codec ?? 'h264', o.gop ?? 8),
    ...(o.extraArgs ?? []),
    out,
  ];
  const r = await runFfmpeg(args, 0, Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength));
  if (r.code !== 0) throw new Error(`${out}: encoding failed (${ffmpegReason(r.stderr, r.code)})`);
}
