// Edit instructions in words, for the plan a prompt edit shows before it is saved and
// for the versions strip ("Crop to 200 × 100 from (10, 20)").
import type { EditInstruction } from './queries';

const FACTOR_NAMES = {
  brightness: 'Brightness',
  contrast: 'Contrast',
  saturation: 'Saturation',
  sharpness: 'Sharpness',
} as const;

export function describeInstruction(instruction: EditInstruction): string {
  if ('crop' in instruction) {
    const { x, y, width, height } = instruction.crop;
    return `Crop to ${width} × ${height} from (${x}, ${y})`;
  }
  if ('resize' in instruction) {
    const { width, height, fit } = instruction.resize;
    const box = `${width ?? 'any width'} × ${height ?? 'any height'}`;
    const how =
      fit === 'COVER' ? 'filling it, overflow cut' : fit === 'FILL' ? 'stretched' : 'fitting in';
    return `Resize to ${box} (${how})`;
  }
  if ('rotate' in instruction) return `Rotate ${instruction.rotate}° clockwise`;
  if ('flip' in instruction)
    return instruction.flip === 'HORIZONTAL'
      ? 'Flip horizontally (mirror)'
      : 'Flip vertically (upside down)';
  if ('blur' in instruction) return `Blur, radius ${instruction.blur} px`;
  if ('grayscale' in instruction) return 'Greyscale';
  for (const [key, name] of Object.entries(FACTOR_NAMES)) {
    if (key in instruction) {
      const factor = (instruction as Record<string, number>)[key];
      return `${name} × ${factor} (${factor > 1 ? 'more' : factor < 1 ? 'less' : 'unchanged'})`;
    }
  }
  return JSON.stringify(instruction);
}
